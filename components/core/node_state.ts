/**
 * The per-node GPU state: which GPUs a pool node has (with their identities) and which pod holds each.
 * status-updater writes it to one ConfigMap per node; every other role reads it from there, so a GPU has
 * the same UUID, index, bus id and memory everywhere.
 *
 * ConfigMap: `fakegpu-node-<node>` in fakegpu's namespace, labels `app.kubernetes.io/managed-by: fakegpu`
 * and `fakegpu.io/node-state: "true"`, data key `state.yaml` holding a {@link NodeGpuState}.
 *
 * The YAML is read with `js-yaml` (YAML 1.2 core schema) rather than `yaml`: every role decodes every state
 * change of a 1000-node fleet, and `js-yaml` parses a state about 12 times faster. It is written by
 * {@link toBlockYaml}, which gives `js-yaml`'s text about 10 times faster.
 *
 * @module
 */
import { z } from "zod";
import { load as loadYaml } from "js-yaml";
import { toBlockYaml } from "./block_yaml.ts";
import type { GpuDevice, GpuOffer, MigStrategy } from "./model.ts";
import { type GpuFault, gpuFaultSchema } from "./gpu_faults.ts";
import type { MigDevice } from "./mig_layout.ts";

/** Data key of the state ConfigMap. */
export const STATE_DATA_KEY = "state.yaml";
/** Label that marks state ConfigMaps. */
export const STATE_LABEL = "fakegpu.io/node-state";
/** Label selector that lists every state ConfigMap. */
export const STATE_SELECTOR = `${STATE_LABEL}=true`;
/** Annotation on the state ConfigMap naming the node (names can exceed label value limits). */
export const STATE_NODE_ANNOTATION = "fakegpu.io/node";

const utilizationSchema = z.object({
  min: z.number().min(0).max(100),
  max: z.number().min(0).max(100),
}).refine((u) => u.min <= u.max, { message: "min must not exceed max" });

const holderSchema = z.object({
  namespace: z.string().min(1),
  pod: z.string().min(1),
  podUid: z.string().min(1),
  container: z.string().min(1),
  utilization: utilizationSchema.optional(),
  memoryUsedMiB: z.number().int().min(0).optional(),
  share: z.number().gt(0).max(1).optional(),
  since: z.iso.datetime().optional(),
});

const migDeviceSchema = z.object({
  profile: z.string().min(1),
  giId: z.number().int().min(0),
  placementStart: z.number().int().min(0),
  placementSize: z.number().int().min(1),
  uuid: z.string().regex(/^MIG-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  holder: holderSchema.optional(),
});

/**
 * States written before several holders per GPU were modelled carry `holder` and `sharedWith` (the claim's other
 * pods); read them as `holders` so an upgrade keeps every assignment.
 */
function upgradeHolders(raw: unknown): unknown {
  if (typeof raw !== "object" || raw === null || !("holder" in raw)) return raw;
  const { holder, sharedWith, ...rest } = raw as { holder?: Record<string, unknown>; sharedWith?: unknown };
  if (!holder) return rest;
  const others = Array.isArray(sharedWith) ? sharedWith : [];
  return { ...rest, holders: [holder, ...others.map((o) => ({ ...o, container: holder.container }))] };
}

const deviceSchema = z.preprocess(
  upgradeHolders,
  z.object({
    index: z.number().int().min(0),
    uuid: z.string().regex(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
    pciBusId: z.string().regex(/^[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.0$/),
    serial: z.string().regex(/^[0-9]{13}$/),
    holders: z.array(holderSchema).min(1).optional(),
    loadSince: z.iso.datetime().optional(),
    faults: gpuFaultSchema.optional(),
    faultsSince: z.iso.datetime().optional(),
    busyEnergyJ: z.number().min(0).optional(),
    mig: z.array(migDeviceSchema).optional(),
  }),
);

const stateSchema = z.object({
  node: z.string().min(1),
  pool: z.string().min(1),
  kwok: z.boolean(),
  gpu: z.object({
    product: z.string().min(1),
    model: z.string().min(1),
    memoryMiB: z.number().int().positive(),
    driverVersion: z.string().min(1),
    cudaVersion: z.string().min(1),
  }),
  migStrategy: z.enum(["none", "single", "mixed"]),
  otherResources: z.record(z.string(), z.number().int().min(0)),
  gpuOffer: z.enum(["extended-resource", "dra", "both"]).optional(),
  replicas: z.number().int().min(2).optional(),
  devices: z.array(deviceSchema),
});

/** Simulated utilization range (percent) for the GPUs a pod holds. */
export interface UtilizationRange {
  /** Lowest utilization in percent. */
  min: number;
  /** Highest utilization in percent. */
  max: number;
}

/** The pod container that holds a GPU. */
export interface GpuHolder {
  /** Pod namespace. */
  namespace: string;
  /** Pod name. */
  pod: string;
  /** Pod UID: tells a recreated pod of the same name apart. */
  podUid: string;
  /** Container that uses the GPU (the app container; an init container only when no app container does). */
  container: string;
  /** Simulated utilization, from the pod's annotation when it has a valid one. */
  utilization?: UtilizationRange;
  /** Simulated framebuffer use in MiB, from the pod's memory annotation when it has a valid one. */
  memoryUsedMiB?: number;
  /**
   * The part of the GPU the pod was granted when it shares the GPU by fractions (KAI's `gpu-fraction`, HAMi's
   * cores), 0 < share ≤ 1; absent for a whole GPU or a time-sliced one (no limit). Scales the pod's load.
   */
  share?: number;
  /** When the pod got the GPU (RFC 3339); the simulated energy counter integrates from here. */
  since?: string;
}

/** A MIG device of a GPU with the pod that holds it, if any. */
export interface NodeMigDevice extends MigDevice {
  /** The holder; absent when the MIG device is free (a MIG device is a partition held by one pod). */
  holder?: GpuHolder;
}

/** One GPU of a node with the pods that hold it, if any. */
export interface NodeGpuDevice extends GpuDevice {
  /**
   * The pods using the GPU, first come first; absent when the GPU is free. One pod holds a GPU whole; several
   * share it through time-slicing replicas, a shared ResourceClaim, KAI fractions or HAMi, each with its own
   * memory use and share.
   */
  holders?: GpuHolder[];
  /**
   * When the holders' combined load last changed by a holder leaving while others stayed (RFC 3339); the energy
   * counter integrates the current load from the latest of this and the holders' `since`.
   */
  loadSince?: string;
  /** Simulated faults from the node's `fakegpu.io/gpu-faults` annotation. */
  faults?: GpuFault;
  /** When the current faults were switched on (RFC 3339); throttling counters count from here. */
  faultsSince?: string;
  /**
   * Energy in joules that earlier holders drew above idle; keeps the simulated energy counter monotonic
   * when a holder goes.
   */
  busyEnergyJ?: number;
  /** The GPU's MIG devices when MIG is on for it (a GPU with MIG devices is never held whole). */
  mig?: NodeMigDevice[];
}

/** Everything fakegpu knows about the GPUs of one node. */
export interface NodeGpuState {
  /** Node name. */
  node: string;
  /** Pool the node belongs to. */
  pool: string;
  /** Whether the node is a KWOK node (annotation `kwok.x-k8s.io/node: fake`). */
  kwok: boolean;
  /** What every GPU of the node is. */
  gpu: {
    /** nvidia-smi product name, e.g. `NVIDIA A100-SXM4-80GB`. */
    product: string;
    /** Catalogue key of the model, e.g. `a100-80gb`. */
    model: string;
    /** Memory of one GPU in MiB. */
    memoryMiB: number;
    /** Driver version, e.g. `580.105.08`. */
    driverVersion: string;
    /** CUDA version, e.g. `13.0`. */
    cudaVersion: string;
  };
  /** MIG strategy of the cluster. */
  migStrategy: MigStrategy;
  /** Extended resources other than `nvidia.com/gpu`, by name. */
  otherResources: Record<string, number>;
  /** How the pool offers its GPUs; absent means `extended-resource`. */
  gpuOffer?: GpuOffer;
  /** Time-slicing replicas per GPU; absent means 1. */
  replicas?: number;
  /** The GPUs, by index. */
  devices: NodeGpuDevice[];
}

/** Thrown when a state ConfigMap's data is not a valid {@link NodeGpuState}. */
export class NodeStateError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "NodeStateError";
  }
}

/**
 * Name of the state ConfigMap of a node. Names longer than a ConfigMap name may be are shortened
 * with a hash so every node still gets its own ConfigMap.
 */
export function stateConfigMapName(node: string): string {
  const name = `fakegpu-node-${node}`;
  if (name.length <= 253) return name;
  let hash = 0x811c9dc5;
  for (const ch of node) hash = Math.imul(hash ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return `${name.slice(0, 244)}-${hash.toString(16).padStart(8, "0")}`;
}

/**
 * Serialises a state for the ConfigMap's `state.yaml` key: plain block YAML, never anchors and aliases
 * (`&a1` … `*a1`), even where several GPUs share one value (a pod's utilization on each GPU it holds).
 */
export function encodeNodeState(state: NodeGpuState): string {
  return toBlockYaml(state);
}

/** Parses and validates the `state.yaml` text of a state ConfigMap. */
export function decodeNodeState(text: string): NodeGpuState {
  let raw: unknown;
  try {
    raw = loadYaml(text);
  } catch (err) {
    throw new NodeStateError(`Cannot parse node state: ${(err as Error).message}`);
  }
  const result = stateSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new NodeStateError(`Invalid node state: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return result.data;
}

/** Builds the full state ConfigMap object for a node's state (`text`: the state already encoded). */
export function stateConfigMap(
  namespace: string,
  state: NodeGpuState,
  text: string = encodeNodeState(state),
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: stateConfigMapName(state.node),
      namespace,
      labels: { "app.kubernetes.io/managed-by": "fakegpu", [STATE_LABEL]: "true" },
      annotations: { [STATE_NODE_ANNOTATION]: state.node },
    },
    data: { [STATE_DATA_KEY]: text },
  };
}

/** Reads the state out of a state ConfigMap; undefined when the ConfigMap carries none. */
export function stateFromConfigMap(cm: { data?: Record<string, string> }): NodeGpuState | undefined {
  const text = cm.data?.[STATE_DATA_KEY];
  return text === undefined ? undefined : decodeNodeState(text);
}
