/**
 * Benchmark (prints figures, asserts nothing): on a real local control plane with status-updater and the
 * KWOK device plugin running, `--creators` parallel creators create N pool nodes, and it reports the time to
 * create them, from the first create until every node advertises its GPUs and until every node carries its
 * GFD labels, the per-node latency (node created → `nvidia.com/gpu` in allocatable) p50/p99, each role's
 * peak RSS and CPU seconds, the control plane's CPU seconds in the `--window-s` seconds after the first
 * create (and until the fleet is done), the API requests per node by verb and resource
 * (`apiserver_request_total`), and Node updates per node as a watcher sees them.
 *
 * `deno task bench:fleet [--nodes 1000] [--creators 16] [--mix a100=0.6,h100=0.2,l40s=0.2]`.
 * `--bare`: no role runs, only the nodes are created: the control plane's baseline for the same window.
 * `--churn 5000`: then 5000 one-GPU pods as Deployments of 100 (see pod_churn.ts), deleted again.
 * `--dra`: every pool has `gpuOffer: dra`, dra-plugin runs too, and a node counts as advertised once its
 * ResourceSlice holds all its GPUs.
 * `--scrapes K`: dcgm-exporter (`--node-scope kwok`) runs too, optionally with `--pods P` one-GPU pods holding
 * GPUs, and K full scrapes of its `/metrics` are timed, one every `--scrape-interval-ms` (default 1000).
 * `deno task bench:dcgm`: 1000 nodes × 8 GPUs (a100 and h100), 1000 pods, 30 scrapes.
 * `--cpu-prof DIR`: the roles write V8 CPU profiles into DIR when they stop.
 * `--v8-flags F`: further V8 flags for the roles (after `ROLE_V8_FLAGS`), to measure a trade-off.
 * `--apiserver-profile FILE`: a Go CPU profile of kube-apiserver over the window after the first create
 * (`go tool pprof -top FILE`).
 * `--one-process`: status-updater and the KWOK device plugin run as one process
 * (`fakegpu status-updater+device-plugin`, sharing one fleet watch), as `local-fleet` runs them.
 */
import { parseArgs } from "node:util";
import { startControlPlane } from "../../components/local_fleet/control_plane.ts";
import { connect, type KubeObject } from "../../components/core/kube/client.ts";
import { startReflector } from "../../components/core/kube/reflector.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import { startRole } from "../cluster/roles.ts";
import { freePort } from "../cluster/prometheus.ts";
import { podSpec } from "../cluster/fleet_fixtures.ts";
import { apiRequestCounts } from "../cluster/api_metrics.ts";
import { controlPlaneCpuSeconds, percentile, procStats, requestsPerNode } from "./bench_stats.ts";
import { runPodChurn } from "./pod_churn.ts";

const { values } = parseArgs({
  options: {
    "bin-dir": { type: "string" },
    nodes: { type: "string", default: "1000" },
    creators: { type: "string", default: "16" },
    bare: { type: "boolean", default: false },
    "window-s": { type: "string", default: "30" },
    churn: { type: "string", default: "0" },
    dra: { type: "boolean", default: false },
    mix: { type: "string", default: "a100=0.6,h100=0.2,l40s=0.2" },
    scrapes: { type: "string", default: "0" },
    pods: { type: "string", default: "0" },
    "scrape-interval-ms": { type: "string", default: "1000" },
    "cpu-prof": { type: "string" },
    "one-process": { type: "boolean", default: false },
    "v8-flags": { type: "string" },
    "apiserver-profile": { type: "string" },
  },
});
const binDir = values["bin-dir"] ?? Deno.env.get("FAKEGPU_CLUSTER_BIN");
if (!binDir) throw new Error("--bin-dir is required (last line of tests/cluster/setup.sh)");
const total = Number(values.nodes);
const NS = "gpu-operator";
const GPU_LABEL = "nvidia.com/gpu.product";

/** Nodes per pool for `n` nodes split by `--mix` shares (the last pool takes the rounding rest). */
function mix(n: number): Record<string, number> {
  const shares = values.mix.split(",").map((part) => part.split("=")).map(([pool, share]) => [pool, +share]);
  const counts: Record<string, number> = { a100: 0, h100: 0, l40s: 0 };
  let left = n;
  shares.forEach(([pool, share], i) => {
    if (!(pool as string in counts)) throw new Error(`--mix: unknown pool ${pool} (a100, h100, l40s)`);
    const count = i === shares.length - 1 ? left : Math.round(n * (share as number));
    counts[pool as string] = count;
    left -= count;
  });
  return counts;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const counts = mix(total);
const topologyYaml = (values.dra ? "gpuOffer: dra\n" : "") +
  DEFAULT_TOPOLOGY_YAML.replace(/nodeCount: \d+/g, "nodeCount: 0")
    .replace(/(a100:[\s\S]*?nodeCount: )0/, `$1${counts.a100}`)
    .replace(/(h100:[\s\S]*?nodeCount: )0/, `$1${counts.h100}`)
    .replace(/(l40s:[\s\S]*?nodeCount: )0/, `$1${counts.l40s}`);
const plan = fleetNodes(parseTopologyYaml(topologyYaml));
const gpus = plan.reduce((s, p) => s + p.gpus, 0);
console.log(
  `fleet: ${plan.length} nodes, ${gpus} GPUs (${JSON.stringify(counts)}), ${values.creators} creators`,
);

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
const quiet = {
  logDir,
  env: { FAKEGPU_LOG_LEVEL: "warn" },
  denoFlags: [
    ...values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : [],
    ...values["v8-flags"] ? [`--v8-flags=${values["v8-flags"]}`] : [],
  ],
};
const scrapes = Number(values.scrapes);
const metricsPort = freePort();
const UPDATER = values["one-process"] ? "status-updater+device-plugin" : "status-updater";
const roles = values.bare ? [] : [
  await startRole(UPDATER, roleArgs, quiet),
  ...(values["one-process"] ? [] : [await startRole("device-plugin", roleArgs, quiet)]),
  ...(scrapes > 0
    ? [await startRole("dcgm-exporter", [...roleArgs, "-a", `127.0.0.1:${metricsPort}`], quiet)]
    : []),
  ...(values.dra ? [await startRole("dra-plugin", roleArgs, quiet)] : []),
];
await new Promise((r) => setTimeout(r, 3000));

const expected = new Map(plan.map((p) => [p.name, String(p.gpus)]));
const created = new Map<string, number>();
const advertised = new Map<string, number>();
const labelled = new Map<string, number>();
let nodeUpdates = 0;
let fleetDone!: () => void;
const done = new Promise<void>((resolve) => fleetDone = resolve);
const checkDone = () => {
  const complete = values.bare ? created.size : Math.min(advertised.size, labelled.size);
  if (complete === plan.length) fleetDone();
};
const stop = new AbortController();
interface Advertising extends KubeObject {
  status?: { allocatable?: Record<string, string> };
  spec?: { pool?: { name?: string }; devices?: unknown[] };
}
const advertisedOnce = (name: string, count: string | undefined) => {
  if (advertised.has(name) || expected.get(name) !== count) return;
  advertised.set(name, performance.now());
  checkDone();
};
const nodes = startReflector<Advertising>(client, {
  path: "/api/v1/nodes",
  signal: stop.signal,
  transform: (n) => ({
    metadata: {
      name: n.metadata?.name,
      resourceVersion: n.metadata?.resourceVersion,
      labels: n.metadata?.labels,
    },
    status: n.status,
  }),
  onChange: (change) => {
    if (change.type !== "upsert") return;
    const name = change.object.metadata?.name ?? "";
    if (change.previous) nodeUpdates++;
    if (!labelled.has(name) && change.object.metadata?.labels?.[GPU_LABEL]) {
      labelled.set(name, performance.now());
      checkDone();
    }
    if (!values.dra) advertisedOnce(name, change.object.status?.allocatable?.["nvidia.com/gpu"]);
  },
});
if (values.dra) {
  startReflector<Advertising>(client, {
    path: "/apis/resource.k8s.io/v1/resourceslices",
    signal: stop.signal,
    onChange: (change) => {
      if (change.type !== "upsert") return;
      advertisedOnce(change.object.spec?.pool?.name ?? "", String(change.object.spec?.devices?.length));
    },
  });
}
await nodes.synced;

const requestsBefore = await apiRequestCounts(client);
const planeCpuBefore = await controlPlaneCpuSeconds(plane.clusterDir);
const apiserverProfile = values["apiserver-profile"]
  ? profileApiserver(values["apiserver-profile"])
  : undefined;
const start = performance.now();
const queue = [...plan];
await Promise.all(
  Array.from({ length: Number(values.creators) }, async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      created.set(p.name, performance.now());
      await client.create("/api/v1/nodes", p.object);
    }
  }),
);
const createdAll = performance.now();
checkDone();
const timeout = setTimeout(() => fleetDone(), 300_000);
await done;
clearTimeout(timeout);
const end = performance.now();
const windowMs = Number(values["window-s"]) * 1000;
await new Promise((r) => setTimeout(r, Math.max(0, start + windowMs - performance.now())));
const planeCpu = await controlPlaneCpuSeconds(plane.clusterDir) - planeCpuBefore;
await apiserverProfile;
const requestsAfter = await apiRequestCounts(client);

console.log(`nodes created in ${seconds(createdAll - start)}`);
if (!values.bare) {
  const last = (m: Map<string, number>) => Math.max(...m.values()) - start;
  console.log(
    `all ${advertised.size}/${plan.length} nodes advertised ${seconds(last(advertised))} and ` +
      `${labelled.size}/${plan.length} labelled ${seconds(last(labelled))} after the first create`,
  );
  const latencies = plan.map((p) => (advertised.get(p.name) ?? NaN) - created.get(p.name)!).sort((a, b) =>
    a - b
  );
  console.log(
    `per-node latency: p50 ${seconds(percentile(latencies, 50))}, p99 ${
      seconds(percentile(latencies, 99))
    }, ` +
      `max ${seconds(latencies.at(-1)!)}`,
  );
}
console.log(
  `control plane CPU ${planeCpu.toFixed(1)} s in the ${
    seconds(Math.max(windowMs, end - start))
  } after the first create`,
);
console.log(`Node updates seen by a watcher: ${(nodeUpdates / plan.length).toFixed(2)} per node`);
console.log(
  `API requests per node: ${requestsPerNode(requestsBefore, requestsAfter, plan.length).join(", ")}`,
);
const churn = Number(values.churn);
if (churn > 0) {
  const updater = roles.find((r) => r.role === UPDATER)!;
  const cpuBefore = (await procStats(updater.pid)).cpuSeconds;
  const times = await runPodChurn(client, churn, NS);
  const after = await procStats(updater.pid);
  console.log(
    `pod churn: ${churn} one-GPU pods Running and holding their GPUs in ${
      times.holdersSeconds.toFixed(1)
    } s, ` +
      `every GPU free ${times.freedSeconds.toFixed(1)} s after deleting them; ${UPDATER} peak RSS ` +
      `${after.peakRssMiB.toFixed(0)} MiB, CPU ${
        (after.cpuSeconds - cpuBefore).toFixed(1)
      } s during the churn`,
  );
}
if (scrapes > 0) await benchmarkScrapes();
const stats = await Promise.all(roles.map(async (r) => ({ role: r.role, ...(await procStats(r.pid)) })));
for (const s of stats) {
  console.log(
    `${s.role}: peak RSS ${s.peakRssMiB.toFixed(0)} MiB (${s.fileRssMiB.toFixed(0)} MiB of it file pages, ` +
      `the Deno executable's), CPU ${s.cpuSeconds.toFixed(1)} s`,
  );
}
if (stats.length) {
  console.log(`roles' CPU in total: ${stats.reduce((t, s) => t + s.cpuSeconds, 0).toFixed(1)} s`);
}
stop.abort();
await Promise.all(roles.map((r) => r.stop()));

/** Writes kube-apiserver's CPU profile over `--window-s` seconds into `file` (kubectl get --raw). */
async function profileApiserver(file: string): Promise<void> {
  const out = await new Deno.Command(`${binDir}/kubectl`, {
    args: [
      "--kubeconfig",
      plane.kubeconfigPath,
      "get",
      "--raw",
      `/debug/pprof/profile?seconds=${values["window-s"]}`,
    ],
    stdout: "piped",
  }).output();
  await Deno.writeFile(file, out.stdout);
}

/** Runs `--pods` one-GPU pods, waits until the exporter serves every GPU, and times `--scrapes` scrapes. */
async function benchmarkScrapes(): Promise<void> {
  const pods = Number(values.pods);
  if (pods > 0) {
    await client.create("/apis/apps/v1/namespaces/default/deployments", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "gpu-load", namespace: "default" },
      spec: {
        replicas: pods,
        selector: { matchLabels: { app: "gpu-load" } },
        template: {
          metadata: {
            labels: { app: "gpu-load" },
            annotations: { "run.ai/simulated-gpu-utilization": "40-90" },
          },
          spec: podSpec(1, {}),
        },
      },
    });
    const ready = performance.now();
    while (
      (await client.get<{ status?: { readyReplicas?: number } }>(
        "/apis/apps/v1/namespaces/default/deployments/gpu-load",
      ))?.status?.readyReplicas !== pods
    ) {
      if (performance.now() - ready > 600_000) throw new Error("pods did not become ready in 10 minutes");
      await new Promise((r) => setTimeout(r, 1000));
    }
    console.log(`${pods} one-GPU pods ready in ${((performance.now() - ready) / 1000).toFixed(1)} s`);
  }
  const url = `http://127.0.0.1:${metricsPort}/metrics`;
  const scrape = async () => {
    const begin = performance.now();
    const body = new Uint8Array(await (await fetch(url)).arrayBuffer());
    const ms = performance.now() - begin;
    return { ms, text: new TextDecoder().decode(body) };
  };
  const gpuLines = (text: string) => text.match(/^DCGM_FI_DEV_GPU_UTIL\{/gm)?.length ?? 0;
  const attributed = (text: string) => text.match(/^DCGM_FI_DEV_GPU_UTIL\{.*pod="/gm)?.length ?? 0;
  for (
    let last = await scrape();
    gpuLines(last.text) < gpus || attributed(last.text) < pods;
    last = await scrape()
  ) {
    await new Promise((r) => setTimeout(r, 1000));
  }
  const exporter = roles.find((r) => r.role === "dcgm-exporter")!;
  console.log(
    `dcgm-exporter before the timed scrapes: peak RSS ${
      (await procStats(exporter.pid)).peakRssMiB.toFixed(0)
    } MiB`,
  );
  const times: number[] = [];
  let sample = "";
  for (let i = 0; i < scrapes; i++) {
    await new Promise((r) => setTimeout(r, Number(values["scrape-interval-ms"])));
    const { ms, text } = await scrape();
    times.push(ms);
    sample = text;
  }
  times.sort((a, b) => a - b);
  const series = sample.split("\n").filter((l) => l && !l.startsWith("#")).length;
  console.log(
    `dcgm-exporter: ${scrapes} full scrapes of ${gpus} GPUs (${series} series, ${
      (sample.length / 1048576).toFixed(1)
    } MiB, ${attributed(sample)} GPUs attributed): p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${
      percentile(times, 99).toFixed(0)
    } ms, max ${times.at(-1)!.toFixed(0)} ms`,
  );
}
client.close();
await Deno.remove(logDir, { recursive: true });
