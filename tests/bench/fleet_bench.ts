/**
 * Benchmark (prints figures, asserts nothing): on a real local control plane with status-updater and the
 * KWOK device plugin running, create N pool nodes and measure how long until every node advertises its
 * GPUs, the per-node latency (node created → `nvidia.com/gpu` in allocatable), and each role's peak RSS
 * and CPU seconds.
 *
 * `deno task bench:fleet [--nodes 1000]`. Default fleet: 30% a100 ×8, 30% h100 ×8, 40% l40s ×4
 * (1000 nodes = 6400 GPUs).
 */
import { parseArgs } from "node:util";
import { startControlPlane } from "../../components/local_fleet/control_plane.ts";
import { connect } from "../../components/core/kube/client.ts";
import { startReflector } from "../../components/core/kube/reflector.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import { startRole } from "../cluster/roles.ts";

const { values } = parseArgs({
  options: {
    "bin-dir": { type: "string" },
    nodes: { type: "string", default: "1000" },
    "create-concurrency": { type: "string", default: "16" },
  },
});
const binDir = values["bin-dir"] ?? Deno.env.get("FAKEGPU_CLUSTER_BIN");
if (!binDir) throw new Error("--bin-dir is required (last line of tests/cluster/setup.sh)");
const total = Number(values.nodes);
const NS = "gpu-operator";

function mix(n: number): Record<string, number> {
  const a100 = Math.round(n * 0.3);
  const h100 = Math.round(n * 0.3);
  return { a100, h100, l40s: n - a100 - h100 };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))];
}

async function procStats(pid: number): Promise<{ peakRssMiB: number; cpuSeconds: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { peakRssMiB: hwm / 1024, cpuSeconds: ticks / 100 };
}

const counts = mix(total);
const topologyYaml = DEFAULT_TOPOLOGY_YAML.replace(/nodeCount: \d+/g, "nodeCount: 0")
  .replace(/(a100:[\s\S]*?nodeCount: )0/, `$1${counts.a100}`)
  .replace(/(h100:[\s\S]*?nodeCount: )0/, `$1${counts.h100}`)
  .replace(/(l40s:[\s\S]*?nodeCount: )0/, `$1${counts.l40s}`);
const plan = fleetNodes(parseTopologyYaml(topologyYaml));
const gpus = plan.reduce((s, p) => s + p.gpus, 0);
console.log(`fleet: ${plan.length} nodes, ${gpus} GPUs (${JSON.stringify(counts)})`);

await using plane = await startControlPlane({ binDir });
const client = await connect({ kubeconfig: plane.kubeconfigPath, qps: 500, burst: 1000 });
const logDir = await Deno.makeTempDir({ prefix: "fakegpu-bench-" });
await client.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
await client.create(`/api/v1/namespaces/${NS}/configmaps`, {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "topology", namespace: NS },
  data: { "topology.yml": topologyYaml },
});
const roleArgs = ["--kubeconfig", plane.kubeconfigPath, "--namespace", NS];
const roles = [
  await startRole("status-updater", roleArgs, { logDir, env: { FAKEGPU_LOG_LEVEL: "warn" } }),
  await startRole("device-plugin", roleArgs, { logDir, env: { FAKEGPU_LOG_LEVEL: "warn" } }),
];
await new Promise((r) => setTimeout(r, 3000));

const expected = new Map(plan.map((p) => [p.name, String(p.gpus)]));
const created = new Map<string, number>();
const advertised = new Map<string, number>();
let allDone!: () => void;
const done = new Promise<void>((resolve) => allDone = resolve);
const stop = new AbortController();
startReflector<{ metadata?: { name?: string }; status?: { allocatable?: Record<string, string> } }>(client, {
  path: "/api/v1/nodes",
  signal: stop.signal,
  onChange: (change) => {
    if (change.type !== "upsert") return;
    const name = change.object.metadata?.name ?? "";
    if (
      advertised.has(name) || expected.get(name) !== change.object.status?.allocatable?.["nvidia.com/gpu"]
    ) return;
    advertised.set(name, performance.now());
    if (advertised.size === plan.length) allDone();
  },
});

const start = performance.now();
const queue = [...plan];
await Promise.all(
  Array.from({ length: Number(values["create-concurrency"]) }, async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      created.set(p.name, performance.now());
      await client.create("/api/v1/nodes", p.object);
    }
  }),
);
const createdAll = performance.now();
const timeout = setTimeout(() => allDone(), 300_000);
await done;
clearTimeout(timeout);
const end = performance.now();

const latencies = plan.map((p) => (advertised.get(p.name) ?? NaN) - created.get(p.name)!).sort((a, b) =>
  a - b
);
const stats = await Promise.all(roles.map(async (r) => ({ role: r.role, ...(await procStats(r.pid)) })));
console.log(`nodes created in ${((createdAll - start) / 1000).toFixed(1)} s`);
console.log(
  `all ${advertised.size}/${plan.length} nodes advertised ${
    ((end - start) / 1000).toFixed(1)
  } s after the first create`,
);
console.log(
  `per-node latency: p50 ${(percentile(latencies, 50) / 1000).toFixed(2)} s, p99 ${
    (percentile(latencies, 99) / 1000).toFixed(2)
  } s, max ${(latencies.at(-1)! / 1000).toFixed(2)} s`,
);
for (const s of stats) {
  console.log(`${s.role}: peak RSS ${s.peakRssMiB.toFixed(0)} MiB, CPU ${s.cpuSeconds.toFixed(1)} s`);
}
stop.abort();
await Promise.all(roles.map((r) => r.stop()));
client.close();
await Deno.remove(logDir, { recursive: true });
