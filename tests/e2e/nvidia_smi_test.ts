/**
 * nvidia-smi end to end: the fleet (status-updater, device plugin) and dcgm-exporter run against a real
 * control plane; `fakegpu nvidia-smi --kubeconfig … --node <node>` lists the node state's GPUs and the
 * holder pod's process, and shows the values a scrape of dcgm-exporter shows.
 */
import assert from "node:assert/strict";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { freePort } from "../cluster/prometheus.ts";
import { connect } from "../../components/core/kube/client.ts";
import { decodeNodeState, type NodeGpuState, stateConfigMapName } from "../../components/core/node_state.ts";
import {
  createDefaultFleet,
  FLEET_NAMESPACE as NS,
  gpuPod,
  type Pod,
  POOL_KEY,
} from "../cluster/fleet_fixtures.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** DCGM field for each nvidia-smi field, and how far the two may be apart (they are read a moment apart). */
const PAIRS: [string, string, number][] = [
  ["utilization.gpu", "DCGM_FI_DEV_GPU_UTIL", 0],
  ["memory.used", "DCGM_FI_DEV_FB_USED", 0],
  ["memory.free", "DCGM_FI_DEV_FB_FREE", 0],
  ["clocks.sm", "DCGM_FI_DEV_SM_CLOCK", 0],
  ["clocks.mem", "DCGM_FI_DEV_MEM_CLOCK", 0],
  ["temperature.gpu", "DCGM_FI_DEV_GPU_TEMP", 1],
  ["power.draw", "DCGM_FI_DEV_POWER_USAGE", 5],
];

Deno.test("fakegpu nvidia-smi --node lists the node state's GPUs and holder, agreeing with dcgm-exporter", async (t) => {
  await using cluster: TestCluster = await startTestCluster();
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-smi-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  const port = freePort();
  const roles: RoleProcess[] = [];
  const smi = async (args: string[], env: Record<string, string> = {}) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "nvidia-smi", ...roleArgs, ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
  };
  try {
    const plan = await createDefaultFleet(client);
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    roles.push(await startRole("device-plugin", roleArgs, { logDir }));
    roles.push(await startRole("dcgm-exporter", [...roleArgs, "-a", `127.0.0.1:${port}`], { logDir }));
    const node = plan.find((p) => p.pool === "h100")!.name;
    await client.create("/api/v1/namespaces/default/pods", gpuPod("smi-0", 1, { [POOL_KEY]: "h100" }));
    await waitFor("pod running", async () => {
      const p = await client.get<Pod>("/api/v1/namespaces/default/pods/smi-0");
      return p?.status?.phase === "Running";
    });
    const state = await waitFor("the pod holds a GPU in the node state", async () => {
      const cm = await client.get<{ data: Record<string, string> }>(
        `/api/v1/namespaces/${NS}/configmaps/${stateConfigMapName(node)}`,
      );
      const s: NodeGpuState | undefined = cm && decodeNodeState(cm.data["state.yaml"]);
      return s?.devices.some((d) => d.holders?.[0].pod === "smi-0") ? s : undefined;
    });
    const held = state.devices.find((d) => d.holders?.[0].pod === "smi-0")!;

    await t.step("-L lists the node state's UUIDs", async () => {
      const { code, stdout } = await smi(["--node", node, "-L"]);
      assert.equal(code, 0);
      assert.equal(
        stdout,
        state.devices.map((d) => `GPU ${d.index}: NVIDIA H100 80GB HBM3 (UUID: ${d.uuid})\n`).join(""),
      );
    });

    await t.step("the holder pod's container is the process of its GPU", async () => {
      const apps = await smi([
        "--node",
        node,
        "--query-compute-apps=gpu_uuid,process_name",
        "--format=csv,noheader",
      ]);
      assert.equal(apps.stdout, `${held.uuid}, main\n`);
      const table = await smi(["--node", node, "-i", held.pciBusId]);
      assert.match(
        table.stdout,
        new RegExp(`\\|\\s+${held.index}\\s+N/A\\s+N/A\\s+\\d+\\s+C\\s+main\\s+\\d+MiB \\|`),
      );
      assert.match(
        table.stdout,
        new RegExp(`\\|   ${held.pciBusId} Off \\|`),
        "layout 580, the held GPU only",
      );
    });

    await t.step("--query-gpu agrees with a scrape of dcgm-exporter", async () => {
      const fields = ["uuid", ...PAIRS.map(([f]) => f)].join(",");
      const [{ stdout }, scrape] = await Promise.all([
        smi(["--node", node, `--query-gpu=${fields}`, "--format=csv,noheader,nounits"]),
        waitFor("exporter serves", async () => {
          const r = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
          const body = await r?.text();
          return r?.ok && body?.includes(held.uuid) ? body : undefined;
        }),
      ]);
      const rows = stdout.trimEnd().split("\n").map((r) => r.split(", "));
      assert.deepEqual(rows.map((r) => r[0]), state.devices.map((d) => d.uuid));
      for (const [uuid, ...values] of rows) {
        PAIRS.forEach(([field, dcgm, tolerance], i) => {
          const line = scrape.split("\n").find((l) =>
            l.startsWith(`${dcgm}{`) && l.includes(`UUID="${uuid}"`)
          )!;
          const exported = Number(line.slice(line.lastIndexOf(" ") + 1));
          assert.ok(
            Math.abs(Number(values[i]) - exported) <= tolerance,
            `${field} ${values[i]} vs ${dcgm} ${exported}`,
          );
        });
      }
      assert.equal(rows.find((r) => r[0] === held.uuid)![1], "100", "the pod's GPU is busy");
    });

    await t.step(
      "inside the pod: NVIDIA_VISIBLE_DEVICES and NODE_NAME show its one GPU as GPU 0",
      async () => {
        const { stdout } = await smi(["-L"], { NODE_NAME: node, NVIDIA_VISIBLE_DEVICES: held.uuid });
        assert.equal(stdout, `GPU 0: NVIDIA H100 80GB HBM3 (UUID: ${held.uuid})\n`);
        const none = await smi(["-i", "9"], { NODE_NAME: node });
        assert.deepEqual([none.code, none.stdout], [6, "No devices were found\n"]);
      },
    );

    await t.step("a GPU fallen off the bus is reported as NVML reports it and left out", async () => {
      const lost = state.devices.find((d) => d !== held)!;
      await client.mergePatch(`/api/v1/nodes/${node}`, {
        metadata: {
          annotations: { "fakegpu.io/gpu-faults": JSON.stringify({ [lost.index]: { fallenOffBus: true } }) },
        },
      });
      const { stdout } = await waitFor("nvidia-smi sees the fault", async () => {
        const out = await smi(["--node", node, "-L"]);
        return out.stdout.startsWith("Unable") ? out : undefined;
      });
      assert.equal(
        stdout,
        `Unable to determine the device handle for GPU${lost.pciBusId.slice(4)}: Unknown Error\n` +
          state.devices.filter((d) => d !== lost)
            .map((d) => `GPU ${d.index}: NVIDIA H100 80GB HBM3 (UUID: ${d.uuid})\n`).join(""),
      );
    });
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    client.close();
  }
});
