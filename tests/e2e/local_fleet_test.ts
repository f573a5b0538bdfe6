/**
 * `fakegpu local-fleet` with its output piped into a reader that goes away, as `deno task fleet | tee log`
 * does on Ctrl-C: the fleet is still torn down, with no control-plane or role process, listening port or
 * file of the cluster left behind, both on SIGINT and when only the reader goes. While the fleet is up, a GPU
 * pod with `runtimeClassName: nvidia` is admitted (local-fleet creates the RuntimeClass) and runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  isProcessAlive,
  portOf,
  readComponentPids,
  runKubectl,
} from "../../components/local_fleet/control_plane.ts";
import { gpuPod } from "../cluster/fleet_fixtures.ts";
import { findControlPlaneBinDir, waitFor } from "../cluster/harness.ts";
import { freePort } from "../cluster/prometheus.ts";

const MAIN = decodeURIComponent(new URL("../../main.ts", import.meta.url).pathname);

/** Reads `stream` line by line until a line matches; returns the text read so far. */
async function readUntil(reader: ReadableStreamDefaultReader<string>, pattern: RegExp): Promise<string> {
  let text = "";
  const deadline = Date.now() + 180_000;
  while (!pattern.test(text)) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in local-fleet's output:\n${text}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`local-fleet's output ended before ${pattern}:\n${text}`);
    text += value;
  }
  return text;
}

/** Pids of the processes whose command line names `needle` (the roles name the cluster's kubeconfig). */
async function processesNaming(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.includes(needle)) pids.push(Number(entry.name));
  }
  return pids;
}

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

/** A GPU pod with `runtimeClassName: nvidia` (as KAI writes it) is admitted by the fleet and runs. */
async function runtimeClassPodRuns(binDir: string, kubeconfigPath: string): Promise<void> {
  const plane = { binDir, kubeconfigPath };
  const pod = gpuPod("nvidia-runtime", 1, { "gpu-pool": "a100" }) as { spec: Record<string, unknown> };
  pod.spec.runtimeClassName = "nvidia";
  await runKubectl(plane, ["apply", "-f", "-"], JSON.stringify(pod));
  await waitFor(
    "the runtimeClassName: nvidia pod Running",
    async () =>
      (await runKubectl(plane, ["get", "pod", "nvidia-runtime", "-o", "jsonpath={.status.phase}"])) ===
        "Running",
  );
}

async function fleetTornDownWhenReaderGoes(signal: Deno.Signal | undefined): Promise<void> {
  const workdir = await Deno.makeTempDir({ prefix: "fakegpu-fleet-pipe-" });
  const metricsPort = freePort();
  const binDir = await findControlPlaneBinDir();
  let spawned: Deno.ChildProcess | undefined;
  let exited = false;
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        MAIN,
        "local-fleet",
        "--bin-dir",
        binDir,
        "--kwok-workdir",
        workdir,
        "--metrics-port",
        String(metricsPort),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    spawned = child;
    const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let progress = "";
    const draining = (async () => {
      for (let r = await err.read(); !r.done; r = await err.read()) progress += r.value;
    })().catch(() => {});
    const text = await readUntil(out, /Press Ctrl-C/).catch((error) => {
      throw new Error(`${error.message}\nstderr:\n${progress}`);
    });
    const kubeconfig = /export KUBECONFIG=(\S+)/.exec(text)![1];
    const clusterDir = kubeconfig.slice(0, kubeconfig.lastIndexOf("/"));
    const server = /server: (\S+)/.exec(await Deno.readTextFile(kubeconfig))![1];
    const pids = [...await readComponentPids(clusterDir), ...await processesNaming(kubeconfig)];
    // etcd, kube-apiserver, controller-manager, scheduler, kwok, and the one process of the roles.
    assert.ok(pids.length >= 6, `control plane and roles running: ${pids.join(", ")}`);
    assert.equal(await refused(metricsPort), false, "dcgm-exporter listens");
    await runtimeClassPodRuns(binDir, kubeconfig);

    // The reader exits: both ends of its pipes close, later writes fail with BrokenPipe.
    await Promise.all([out.cancel(), err.cancel()]);
    await draining;
    if (signal) child.kill(signal);
    const timeout = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const status = await child.status;
    exited = true;
    clearTimeout(timeout);
    assert.notEqual(status.signal, "SIGKILL", "local-fleet finished its teardown by itself");

    for (const pid of pids) assert.equal(await isProcessAlive(pid), false, `pid ${pid} still alive`);
    assert.equal(await refused(portOf(server)), true, "kube-apiserver port closed");
    assert.equal(await refused(metricsPort), true, "dcgm-exporter port closed");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(workdir)), [], "nothing left in the work directory");
  } finally {
    // A failed step must not leave the fleet running: local-fleet tears down on SIGINT.
    if (spawned && !exited) {
      const fleet = spawned;
      fleet.kill("SIGINT");
      const timeout = setTimeout(() => fleet.kill("SIGKILL"), 30_000);
      await fleet.status;
      clearTimeout(timeout);
    }
    await Deno.remove(workdir, { recursive: true });
  }
}

Deno.test("local-fleet piped into a reader that exits on Ctrl-C: SIGINT still tears everything down", async () => {
  await fleetTornDownWhenReaderGoes("SIGINT");
});

Deno.test("local-fleet tears everything down when the reader of its output goes away", async () => {
  await fleetTornDownWhenReaderGoes(undefined);
});
