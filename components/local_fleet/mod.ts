/**
 * Role `local-fleet`: the one-command demo. Starts a real local control plane (etcd, kube-apiserver,
 * kube-scheduler, kube-controller-manager, KWOK), creates a fleet of KWOK GPU nodes from a topology,
 * runs status-updater, device-plugin and dcgm-exporter (and dra-plugin when a pool offers its GPUs through
 * DRA) as local processes against it, prints the fleet,
 * and keeps it up until Ctrl-C, then tears everything down.
 *
 * @module
 */
import { z } from "zod";
import { type FlagSpec, parseFlags, printHelpIfAsked } from "../core/flags.ts";
import { log, setLogRole } from "../core/log.ts";
import { watchOutputPipes, writeOutput } from "../core/output.ts";
import { connect, type KubeClient } from "../core/kube/client.ts";
import { ROLE_V8_FLAGS } from "../core/role_runtime.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../core/topology_config.ts";
import { startControlPlane } from "./control_plane.ts";
import { type FleetNodePlan, fleetNodes, fleetTable, NVIDIA_RUNTIME_CLASS } from "./fleet.ts";

/** Flags of `fakegpu local-fleet`. */
export const LOCAL_FLEET_FLAGS: FlagSpec[] = [
  {
    name: "bin-dir",
    description: "directory with the Go-built control plane (last line of tests/cluster/setup.sh)",
  },
  { name: "topology", description: "topology YAML file (default: a100 2x8, h100 1x8, l40s 2x4)" },
  { name: "namespace", description: "namespace for fakegpu's objects", defaultText: "gpu-operator" },
  {
    name: "metrics-port",
    description: "port on 127.0.0.1 where the fleet's dcgm-exporter serves /metrics",
    defaultText: "9400",
  },
  {
    name: "kwok-workdir",
    description: "where kwokctl keeps the cluster's files",
    defaultText: "a temporary directory",
  },
];

const schema = z.object({
  binDir: z.string({ error: "required: build the control plane with `bash tests/cluster/setup.sh`" }).min(
    1,
    "required: build the control plane with `bash tests/cluster/setup.sh`",
  ),
  topology: z.string().min(1).optional(),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a namespace name").default(
    "gpu-operator",
  ),
  kwokWorkdir: z.string().min(1).optional(),
  metricsPort: z.coerce.number().int().min(1).max(65535).default(9400),
});

function say(msg: string): void {
  writeOutput("stderr", `[local-fleet] ${msg}\n`);
}

/** The command that runs another role of this same program. */
function roleCommand(role: string, args: string[]): string[] {
  const exec = Deno.execPath();
  if (/(^|\/)deno(\.exe)?$/.test(exec)) {
    const main = new URL("../../main.ts", import.meta.url).pathname;
    return [exec, "run", "--allow-all", `--v8-flags=${ROLE_V8_FLAGS}`, main, role, ...args];
  }
  return [exec, role, ...args];
}

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Aborted on SIGINT, SIGTERM, SIGHUP, or when nobody reads a piped stdout or stderr any more. */
function stopSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const watching = new AbortController();
  const onSignal = () => controller.abort();
  for (const sig of STOP_SIGNALS) Deno.addSignalListener(sig, onSignal);
  void watchOutputPipes({ onClosed: onSignal, signal: watching.signal });
  return {
    signal: controller.signal,
    dispose: () => {
      watching.abort();
      for (const sig of STOP_SIGNALS) Deno.removeSignalListener(sig, onSignal);
    },
  };
}

async function ensureObject(
  client: KubeClient,
  collection: string,
  body: Record<string, unknown>,
): Promise<void> {
  try {
    await client.create(collection, body);
  } catch (err) {
    if ((err as { status?: number }).status !== 409) throw err;
  }
}

/** Whether any pool of the plan offers its GPUs through DRA (then dra-plugin runs too). */
function offersDra(plan: FleetNodePlan[]): boolean {
  return plan.some((p) => p.gpuOffer !== "extended-resource");
}

/** GPUs each node offers: `nvidia.com/gpu` in allocatable, or devices of its ResourceSlice for DRA-only pools. */
async function offeredGpus(
  client: KubeClient,
  plan: FleetNodePlan[],
): Promise<Map<string, string | undefined>> {
  const offered = new Map<string, string | undefined>();
  const { items: nodes } = await client.list<{
    metadata?: { name?: string };
    status?: { allocatable?: Record<string, string> };
  }>("/api/v1/nodes");
  for (const n of nodes) offered.set(n.metadata?.name ?? "", n.status?.allocatable?.["nvidia.com/gpu"]);
  if (!offersDra(plan)) return offered;
  const { items: slices } = await client.list<{ spec?: { pool?: { name?: string }; devices?: unknown[] } }>(
    "/apis/resource.k8s.io/v1/resourceslices",
    { labelSelector: "app.kubernetes.io/managed-by=fakegpu" },
  );
  const draOnly = new Set(plan.filter((p) => p.gpuOffer === "dra").map((p) => p.name));
  for (const s of slices) {
    const node = s.spec?.pool?.name ?? "";
    if (draOnly.has(node)) offered.set(node, String(s.spec?.devices?.length));
  }
  return offered;
}

async function waitForAdvertisement(
  client: KubeClient,
  plan: FleetNodePlan[],
  signal: AbortSignal,
): Promise<void> {
  const started = Date.now();
  let lastCount = -1;
  while (!signal.aborted) {
    const offered = await offeredGpus(client, plan);
    const done = plan.filter((p) => offered.get(p.name) === String(p.gpus));
    if (done.length !== lastCount) {
      say(
        `GPUs advertised on ${done.length}/${plan.length} nodes (${
          ((Date.now() - started) / 1000).toFixed(1)
        }s)`,
      );
      lastCount = done.length;
    }
    if (done.length === plan.length) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Runs the local fleet until SIGINT, SIGTERM, SIGHUP or its piped output is closed. */
export async function main(args: string[]): Promise<void> {
  if (printHelpIfAsked("local-fleet", args, LOCAL_FLEET_FLAGS)) return;
  const flags = parseFlags(args, LOCAL_FLEET_FLAGS, schema);
  setLogRole("local-fleet");
  const topologyText = flags.topology ? await Deno.readTextFile(flags.topology) : DEFAULT_TOPOLOGY_YAML;
  const topology = parseTopologyYaml(topologyText, flags.topology ?? "default topology");
  const plan = fleetNodes(topology);
  const stop = stopSignal();
  say("starting the control plane (etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kwok)");
  const controlPlane = await startControlPlane({
    binDir: flags.binDir,
    workdir: flags.kwokWorkdir,
    onProgress: (msg) => say(msg),
    signal: stop.signal,
  });
  let rolesProcess: Deno.ChildProcess | undefined;
  try {
    const client = await connect({ kubeconfig: controlPlane.kubeconfigPath });
    const ns = flags.namespace;
    await ensureObject(client, "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns },
    });
    await ensureObject(client, `/api/v1/namespaces/${ns}/configmaps`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "topology", namespace: ns },
      data: { "topology.yml": topologyText },
    });
    await ensureObject(client, "/apis/node.k8s.io/v1/runtimeclasses", NVIDIA_RUNTIME_CLASS);
    say(`creating ${plan.length} KWOK nodes`);
    for (const node of plan) await ensureObject(client, "/api/v1/nodes", node.object);
    // One process runs every role: one runtime and one shared fleet watch instead of one of each per role.
    const roles = [
      "status-updater",
      "device-plugin",
      "dcgm-exporter",
      ...(offersDra(plan) ? ["dra-plugin"] : []),
    ];
    const [cmd, ...rest] = roleCommand(roles.join("+"), [
      "--kubeconfig",
      controlPlane.kubeconfigPath,
      "--namespace",
      ns,
      "--address",
      `127.0.0.1:${flags.metricsPort}`,
    ]);
    rolesProcess = new Deno.Command(cmd, { args: rest, stdin: "null", stdout: "inherit", stderr: "inherit" })
      .spawn();
    say(`started ${roles.join(", ")} (one process)`);
    await waitForAdvertisement(client, plan, stop.signal);
    client.close();
    if (!stop.signal.aborted) {
      writeOutput("stdout", `\n${fleetTable(plan)}\n\n`);
      writeOutput(
        "stdout",
        `The fleet is up. In another shell:
  export KUBECONFIG=${controlPlane.kubeconfigPath} PATH=${controlPlane.binDir}:$PATH
  kubectl get nodes -L gpu-pool,nvidia.com/gpu.product,nvidia.com/gpu.count
  kubectl describe node ${plan[0]?.name ?? "<node>"}
  curl -s http://127.0.0.1:${flags.metricsPort}/metrics | grep DCGM_FI_DEV_GPU_UTIL${
          offersDra(plan) ? "\n  kubectl get resourceslices -o wide" : ""
        }
Press Ctrl-C to stop and tear everything down.\n`,
      );
      await new Promise<void>((resolve) =>
        stop.signal.addEventListener("abort", () => resolve(), { once: true })
      );
    }
  } finally {
    say("stopping");
    try {
      rolesProcess?.kill("SIGTERM");
    } catch {
      // already gone
    }
    await rolesProcess?.status;
    await controlPlane.stop();
    stop.dispose();
    log.info("local fleet stopped");
    say("stopped; nothing left running");
  }
}
