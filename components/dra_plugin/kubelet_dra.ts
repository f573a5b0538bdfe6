/**
 * The kubelet side of dra-plugin for its own node (scope `this-node`): registers driver `gpu.nvidia.com` with the
 * kubelet's plugin watcher (`GetInfo`/`NotifyRegistrationStatus` on `<registry>/gpu.nvidia.com-reg.sock`) and
 * serves the DRA plugin API v1 on `<plugins>/gpu.nvidia.com/dra.sock`. NodePrepareResources writes a CDI spec per
 * claim (see cdi.ts) and returns NVIDIA-shaped CDI device ids; preparing again returns the same devices;
 * NodeUnprepareResources removes the spec and succeeds for claims it never prepared. Prepared claims are
 * checkpointed (checkpoint.ts), so a restart forgets none.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";
import { stringify as stringifyYaml } from "yaml";
import { z } from "zod";
import { loadProto, serveUnix, service, stopUnix } from "../core/grpc.ts";
import { log } from "../core/log.ts";
import type { KubeClient } from "../core/kube/client.ts";
import { stateConfigMapName, stateFromConfigMap } from "../core/node_state.ts";
import { cdiDeviceId, cdiSpec, cdiSpecFile } from "./cdi.ts";
import { Checkpoint, type PreparedClaim } from "./checkpoint.ts";
import { DRA_DRIVER } from "./devices.ts";

/** The kubelet's plugin registration directory. */
export const PLUGIN_REGISTRY_DIR = "/var/lib/kubelet/plugins_registry";
/** Directory of the driver's DRA socket and checkpoint. */
export const DRA_PLUGIN_DIR = `/var/lib/kubelet/plugins/${DRA_DRIVER}`;
/** Where CDI specs go. */
export const CDI_ROOT = "/var/run/cdi";

const draProto = loadProto(new URL("./dra.proto", import.meta.url));
const DRAPlugin = service(draProto, "k8s", "io", "kubelet", "pkg", "apis", "dra", "v1", "DRAPlugin");
const Registration = service(
  loadProto(new URL("./pluginregistration.proto", import.meta.url)),
  "pluginregistration",
  "Registration",
);

/** Options of {@link runKubeletDraPlugin}. */
export interface KubeletDraOptions {
  /** fakegpu's namespace (node states). */
  namespace: string;
  /** The node served. */
  nodeName: string;
  /** The kubelet's plugin registration directory. */
  registryDir: string;
  /** Directory of the DRA socket and the checkpoint. */
  pluginDir: string;
  /** Directory CDI specs are written to. */
  cdiRoot: string;
  /** Host path of fakegpu's nvidia-smi to mount into containers. */
  nvidiaSmiHostPath?: string;
  /** Stops the plugin. */
  signal: AbortSignal;
}

interface ClaimRef {
  namespace: string;
  uid: string;
  name: string;
}

const claimSchema = z.object({
  metadata: z.object({ uid: z.string() }),
  status: z.object({
    allocation: z.object({
      devices: z.object({
        results: z.array(
          z.object({ request: z.string(), driver: z.string(), pool: z.string(), device: z.string() }),
        ),
      }),
    }),
  }),
});

/**
 * Resolves true once `dir` exists (checked every 2 s; a node without a kubelet never gets one, and nothing is
 * created there), or false when the signal aborts first.
 */
export async function whenDirectoryExists(dir: string, signal: AbortSignal): Promise<boolean> {
  let told = false;
  while (!signal.aborted) {
    if (await Deno.stat(dir).then((s) => s.isDirectory, () => false)) return true;
    if (!told) log.info("waiting for the kubelet's plugin registration directory", { dir });
    told = true;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  return false;
}

/** Serves the node's claims to its kubelet until the signal aborts. */
export async function runKubeletDraPlugin(client: KubeClient, options: KubeletDraOptions): Promise<void> {
  const { nodeName: node } = options;
  await Deno.mkdir(options.pluginDir, { recursive: true });
  await Deno.mkdir(options.cdiRoot, { recursive: true });
  const checkpoint = await Checkpoint.load(`${options.pluginDir}/checkpoint.json`);
  const draSocket = `${options.pluginDir}/dra.sock`;
  const regSocket = `${options.registryDir}/${DRA_DRIVER}-reg.sock`;

  async function prepare(ref: ClaimRef): Promise<PreparedClaim> {
    const known = checkpoint.get(ref.uid);
    if (known) return known;
    const raw = await client.get(
      `/apis/resource.k8s.io/v1/namespaces/${ref.namespace}/resourceclaims/${ref.name}`,
    );
    if (!raw) throw new Error(`ResourceClaim ${ref.namespace}/${ref.name} not found`);
    const parsed = claimSchema.safeParse(raw);
    if (!parsed.success) {
      throw new Error(
        `ResourceClaim ${ref.namespace}/${ref.name}: ${parsed.error.issues[0].path.join(".")} missing`,
      );
    }
    if (parsed.data.metadata.uid !== ref.uid) {
      throw new Error(`ResourceClaim ${ref.name} has another UID now`);
    }
    const results = parsed.data.status.allocation.devices.results.filter((r) =>
      r.driver === DRA_DRIVER && r.pool === node
    );
    const cm = await client.get<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${options.namespace}/configmaps/${stateConfigMapName(node)}`,
    );
    const state = cm ? stateFromConfigMap(cm) : undefined;
    const gpus = results.map((r) => {
      const gpu = state?.devices.find((d) => `gpu-${d.index}` === r.device);
      if (!gpu) throw new Error(`device ${r.device} is not a GPU of ${node}`);
      return { device: r.device, uuid: gpu.uuid };
    });
    const spec = cdiSpec(ref.uid, gpus, node, options.nvidiaSmiHostPath);
    await Deno.writeTextFile(`${options.cdiRoot}/${cdiSpecFile(ref.uid)}`, stringifyYaml(spec));
    const prepared: PreparedClaim = {
      namespace: ref.namespace,
      name: ref.name,
      devices: results.map((r) => ({
        request_names: [r.request],
        pool_name: r.pool,
        device_name: r.device,
        cdi_device_ids: [cdiDeviceId(ref.uid, r.device)],
      })),
    };
    await checkpoint.set(ref.uid, prepared);
    log.info("claim prepared", {
      node,
      claim: `${ref.namespace}/${ref.name}`,
      devices: gpus.map((g) => g.device),
    });
    return prepared;
  }

  async function unprepare(ref: ClaimRef): Promise<void> {
    await Deno.remove(`${options.cdiRoot}/${cdiSpecFile(ref.uid)}`).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    await checkpoint.delete(ref.uid);
    log.info("claim unprepared", { node, claim: `${ref.namespace}/${ref.name}` });
  }

  /** Runs `fn` for every claim of a request; a failing claim gets its error, the others their answers. */
  const perClaim = <T>(fn: (ref: ClaimRef) => Promise<T>) =>
  async (
    call: grpc.ServerUnaryCall<{ claims: ClaimRef[] }, unknown>,
    callback: grpc.sendUnaryData<unknown>,
  ) => {
    const claims: Record<string, T | { error: string }> = {};
    for (const ref of call.request.claims) {
      try {
        claims[ref.uid] = await fn(ref);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log.warn("DRA claim request failed", { node, claim: `${ref.namespace}/${ref.name}`, error });
        claims[ref.uid] = { error };
      }
    }
    callback(null, { claims });
  };

  const dra = await serveUnix(draSocket, [[DRAPlugin, {
    NodePrepareResources: perClaim(async (ref) => ({ devices: (await prepare(ref)).devices })),
    NodeUnprepareResources: perClaim(async (ref) => (await unprepare(ref), {})),
  }]]);
  const registration = await serveUnix(regSocket, [[Registration, {
    GetInfo: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, {
        type: "DRAPlugin",
        name: DRA_DRIVER,
        endpoint: draSocket,
        supported_versions: ["v1.DRAPlugin"],
      }),
    NotifyRegistrationStatus: (
      call: grpc.ServerUnaryCall<{ plugin_registered: boolean; error: string }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      if (call.request.plugin_registered) log.info("DRA plugin registered with the kubelet", { node });
      else log.warn("the kubelet refused the DRA plugin", { node, error: call.request.error });
      callback(null, {});
    },
  }]]);
  await new Promise<void>((resolve) =>
    options.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  await stopUnix(registration, regSocket);
  await stopUnix(dra, draSocket);
}
