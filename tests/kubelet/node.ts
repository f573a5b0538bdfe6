/**
 * A real kubelet node for end-to-end tests of fakegpu's node-side roles: the kubelet built by
 * tests/cluster/build.sh joins a test control plane (started with `kwokNodesOnly`, so kwok-controller leaves it
 * alone) with fakegpu's in-memory fake container runtime (tests/kubelet/fake_runtime), both inside an
 * {@link IsolatedNamespace}. The plugins under test run inside the same namespace through
 * {@link KubeletNode.start}, so `/var/lib/kubelet/...` is the kubelet's.
 *
 * ```ts
 * await using cluster = await startTestCluster({ kwokNodesOnly: true });
 * await using node = await startKubeletNode(cluster, { name: "real-0", labels: { pool: "a100" } });
 * const created = await node.createdContainers(); // what the runtime was asked to create
 * ```
 *
 * @module
 */

import { stringify as stringifyYaml } from "yaml";
import type { TestCluster } from "../cluster/harness.ts";
import { freePort } from "../cluster/prometheus.ts";
import { type IsolatedNamespace, type NamespacedProcess, openIsolatedNamespace } from "./namespace.ts";

const MAIN = decodeURIComponent(new URL("../../main.ts", import.meta.url).pathname);

/** One CreateContainer request as the fake runtime records it. */
export interface CreatedContainer {
  /** Pod namespace. */
  namespace: string;
  /** Pod name. */
  pod: string;
  /** Pod UID. */
  podUid: string;
  /** Container name. */
  container: string;
  /** Environment, including what device plugins injected. */
  envs: Record<string, string>;
  /** Mounts. */
  mounts: { containerPath: string; hostPath: string; readOnly: boolean }[];
  /** Host paths of device nodes. */
  devices: string[];
  /** Fully qualified CDI device names. */
  cdiDevices: string[];
}

/** Options of {@link startKubeletNode}. */
export interface KubeletNodeOptions {
  /** Node name (`--hostname-override`). */
  name: string;
  /** Node labels the kubelet registers with. */
  labels?: Record<string, string>;
}

/** A running kubelet node; dispose it with `await using`. */
export interface KubeletNode extends AsyncDisposable {
  /** Node name. */
  readonly name: string;
  /** Scratch directory (logs, sockets, the overlays' upper directories). */
  readonly scratch: string;
  /** Starts a process inside the node's namespace. */
  start(name: string, command: string, args: string[], env?: Record<string, string>): NamespacedProcess;
  /**
   * Starts `fakegpu <role> <args>` from this checkout inside the node's namespace, with `NODE_NAME` set to the
   * node and info logging (a node-scope role under test).
   */
  startRole(role: string, args: string[]): NamespacedProcess;
  /** Stops the kubelet and starts it again with the same configuration, as a node restart would. */
  restartKubelet(): Promise<void>;
  /** Every CreateContainer request the runtime received so far. */
  createdContainers(): Promise<CreatedContainer[]>;
  /** A file as seen inside the namespace (e.g. under `/var/lib/kubelet` or `/var/run/cdi`), or undefined. */
  readFile(path: string): Promise<string | undefined>;
  /** Whether a path exists inside the namespace. */
  exists(path: string): Promise<boolean>;
}

/** The KubeletConfiguration that works with the fake runtime on these machines (real-kubelet.md). */
export function kubeletConfig(runtimeSocket: string, port: number, healthzPort: number): string {
  return stringifyYaml({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: "127.0.0.1",
    port,
    healthzPort,
    healthzBindAddress: "127.0.0.1",
    readOnlyPort: 0,
    containerRuntimeEndpoint: `unix://${runtimeSocket}`,
    cgroupDriver: "cgroupfs",
    failCgroupV1: false,
    failSwapOn: false,
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    resolvConf: "",
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: "AlwaysAllow" },
    registerNode: true,
    nodeStatusUpdateFrequency: "10s",
    syncFrequency: "10s",
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { "memory.available": "1Mi" },
  });
}

/** Starts the fake runtime and a kubelet registering node `name` with the cluster. */
export async function startKubeletNode(
  cluster: Pick<TestCluster, "binDir" | "kubeconfigPath">,
  options: KubeletNodeOptions,
): Promise<KubeletNode> {
  const ns: IsolatedNamespace = await openIsolatedNamespace();
  const { scratch } = ns;
  const runtimeSocket = `${scratch}/runtime.sock`;
  const records = `${scratch}/created-containers.jsonl`;
  const configFile = `${scratch}/kubelet.yaml`;
  try {
    await Deno.mkdir(`${scratch}/images`);
    await Deno.writeTextFile(configFile, kubeletConfig(runtimeSocket, freePort(), freePort()));
    const runtime = ns.start("fake-runtime", `${cluster.binDir}/fake-runtime`, [
      "--listen",
      runtimeSocket,
      "--record",
      records,
      "--image-fs",
      `${scratch}/images`,
    ]);
    await waitForPath(runtimeSocket, runtime);
  } catch (err) {
    await ns.close();
    throw err;
  }
  const labels = Object.entries(options.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
  const startKubelet = () =>
    ns.start("kubelet", `${cluster.binDir}/kubelet`, [
      "--config",
      configFile,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--root-dir",
      "/var/lib/kubelet",
      "--cert-dir",
      "/var/lib/kubelet/pki",
      "--hostname-override",
      options.name,
      ...(labels ? ["--node-labels", labels] : []),
    ]);
  let kubelet = startKubelet();
  const inside = async (command: string[]) =>
    await new Deno.Command("nsenter", {
      args: ["-t", String(ns.pid), "-m", "--", ...command],
      stdout: "piped",
      stderr: "null",
    }).output();
  return {
    name: options.name,
    scratch,
    start: ns.start,
    startRole: (role, args) =>
      ns.start(role, Deno.execPath(), ["run", "--allow-all", MAIN, role, ...args], {
        NODE_NAME: options.name,
        FAKEGPU_LOG_LEVEL: "info",
      }),
    restartKubelet: async () => {
      await kubelet.stop();
      kubelet = startKubelet();
    },
    createdContainers: async () => {
      const text = await Deno.readTextFile(records).catch(() => "");
      return text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as CreatedContainer);
    },
    readFile: async (path) => {
      const out = await inside(["cat", path]);
      return out.success ? new TextDecoder().decode(out.stdout) : undefined;
    },
    exists: async (path) => (await inside(["test", "-e", path])).success,
    [Symbol.asyncDispose]: () => ns.close(),
  };
}

/** Waits until `path` exists; throws with the process's log when it exits first. */
async function waitForPath(path: string, process: NamespacedProcess): Promise<void> {
  let exited = false;
  process.exited.then(() => exited = true);
  for (let i = 0; i < 200; i++) {
    if (await Deno.stat(path).then(() => true, () => false)) return;
    if (exited) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = await Deno.readTextFile(process.logFile).catch(() => "");
  throw new Error(`${process.name} did not create ${path}:\n${log.trim().split("\n").slice(-20).join("\n")}`);
}
