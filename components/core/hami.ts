/**
 * HAMi's annotations as HAMi's device plugin writes and reads them, as pure functions: fakegpu plays that
 * plugin on the KWOK nodes of a pool with `sharing: {hami: …}` while HAMi's scheduler (an extender) runs
 * unchanged.
 *
 * - Node: `hami.io/node-nvidia-register` lists the GPUs (JSON, HAMi v2.8+, or the text format up to v2.7);
 *   `hami.io/node-handshake` answers the scheduler's `Requesting_<time>` with `Reported <time>`.
 * - Pod, set by the scheduler's Filter: `hami.io/vgpu-devices-to-allocate` and `hami.io/vgpu-devices-allocated`,
 *   `<uuid>,NVIDIA,<memMiB>,<cores>:` per device, each container ended by `;`.
 * - Bind: the scheduler locks the node (`hami.io/mutex.lock=<RFC3339>,<ns>,<pod>`), sets the pod's
 *   `hami.io/bind-phase=allocating` and binds it; the plugin consumes `vgpu-devices-to-allocate`, sets
 *   `bind-phase=success` (or `failed`) and releases the lock when it names the pod ({@link bindCompletion}).
 *
 * Malformed input never throws: it comes back as an error text naming the annotation and the offending part.
 *
 * @module
 */
import { isGpuHealthy } from "./gpu_faults.ts";
import type { HamiSharing } from "./model.ts";
import type { NodeGpuDevice } from "./node_state.ts";

/** Node annotation listing the node's GPUs for HAMi's scheduler. */
export const HAMI_REGISTER_ANNOTATION = "hami.io/node-nvidia-register";
/** Node annotation of the scheduler–plugin handshake. */
export const HAMI_HANDSHAKE_ANNOTATION = "hami.io/node-handshake";
/** Node annotation: the scheduler's lock while it binds a pod to the node. */
export const HAMI_LOCK_ANNOTATION = "hami.io/mutex.lock";
/** Pod annotation: the node HAMi's Filter chose. */
export const HAMI_NODE_ANNOTATION = "hami.io/vgpu-node";
/** Pod annotation: when HAMi's Filter chose (unix seconds). */
export const HAMI_TIME_ANNOTATION = "hami.io/vgpu-time";
/** Pod annotation: the devices the plugin still has to hand out, consumed at allocation. */
export const HAMI_TO_ALLOCATE_ANNOTATION = "hami.io/vgpu-devices-to-allocate";
/** Pod annotation: the devices HAMi allocated to the pod (kept). */
export const HAMI_ALLOCATED_ANNOTATION = "hami.io/vgpu-devices-allocated";
/** Pod annotation: where the bind stands (`allocating`, `success`, `failed`). */
export const HAMI_BIND_PHASE_ANNOTATION = "hami.io/bind-phase";
/** Pod annotation: when the scheduler started binding (unix seconds). */
export const HAMI_BIND_TIME_ANNOTATION = "hami.io/bind-time";
/** Device type of NVIDIA GPUs in HAMi's device lists. */
export const HAMI_NVIDIA_TYPE = "NVIDIA";

/** Where a HAMi bind stands, as `hami.io/bind-phase` says. */
export type BindPhase = "allocating" | "success" | "failed";

/** Outcome of parsing an annotation: the value, or an error text naming the annotation and the bad part. */
export type Parsed<T> = { value: T; error?: undefined } | { value?: undefined; error: string };

// ---------------------------------------------------------------------------------------------------------
// Node registration

/** One GPU as `hami.io/node-nvidia-register` lists it. */
export interface HamiRegisteredGpu {
  /** GPU UUID. */
  id: string;
  /** GPU index on the node. */
  index: number;
  /** Pods the GPU takes at most (split count). */
  count: number;
  /** Registered memory in MiB (memory × memory scaling). */
  devmem: number;
  /** Registered cores (100 × core scaling). */
  devcore: number;
  /** Device type: the NVML name, `NVIDIA-` prefixed when it lacks `NVIDIA`. */
  type: string;
  /** NUMA node. */
  numa: number;
  /** Sharing mode; fakegpu registers `hami-core`. */
  mode: string;
  /** Whether the GPU is healthy. */
  health: boolean;
}

/** HAMi's device type of a GPU product: the NVML name, with `NVIDIA-` in front when it lacks `NVIDIA`. */
export function hamiDeviceType(product: string): string {
  return product.includes(HAMI_NVIDIA_TYPE) ? product : `${HAMI_NVIDIA_TYPE}-${product}`;
}

/** The node's GPUs as HAMi's plugin registers them; unhealthy GPUs (their faults) stay, marked unhealthy. */
export function registeredGpus(
  devices: readonly NodeGpuDevice[],
  gpu: { product: string; memoryMiB: number },
  sharing: HamiSharing,
): HamiRegisteredGpu[] {
  return devices.map((device) => ({
    id: device.uuid,
    index: device.index,
    count: sharing.splitCount,
    devmem: Math.floor(gpu.memoryMiB * sharing.memoryScaling),
    devcore: Math.floor(100 * sharing.coreScaling),
    type: hamiDeviceType(gpu.product),
    numa: 0,
    mode: "hami-core",
    health: isGpuHealthy(device.faults),
  }));
}

/**
 * The text of `hami.io/node-nvidia-register`. `json` (v2.8+): an array of one object per GPU whose zero
 * values are left out, as Go's `omitempty` does (index 0, numa 0, health false). `text` (up to v2.7):
 * `<uuid>,<count>,<devmem>,<devcore>,<type>,<numa>,<health>,<index>,<mode>:` per GPU.
 */
export function formatRegister(
  gpus: readonly HamiRegisteredGpu[],
  format: HamiSharing["registerFormat"],
): string {
  if (format === "text") {
    return gpus.map((g) =>
      `${g.id},${g.count},${g.devmem},${g.devcore},${g.type},${g.numa},${g.health},${g.index},${g.mode}:`
    ).join("");
  }
  return JSON.stringify(
    gpus.map((gpu) =>
      Object.fromEntries(
        Object.entries(gpu).filter(([, value]) => value !== 0 && value !== false && value !== ""),
      )
    ),
  );
}

/** The handshake's time layout (`YYYY-MM-DD HH:MM:SS`, UTC). */
export function formatHandshakeTime(now: Date): string {
  return now.toISOString().slice(0, 19).replace("T", " ");
}

/**
 * The plugin's answer to the node's handshake: `Reported <time>` unless the node already says `Reported`
 * (the scheduler writes `Requesting_<time>`, or `Deleted_<time>` when it gave up on the node).
 */
export function handshakeReply(current: string | undefined, now: Date): string | undefined {
  return current?.startsWith("Reported") ? undefined : `Reported ${formatHandshakeTime(now)}`;
}

/**
 * The node annotations fakegpu must write as HAMi's plugin (a JSON merge patch of them): the register annotation
 * when it differs from the node's and the handshake answer when one is due; without a register (the pool no
 * longer shares through HAMi) the node's register annotation is removed (`null`) and the handshake left alone.
 * Undefined when the node is current.
 */
export function hamiNodeAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  register: string | undefined,
  now: Date,
): Record<string, string | null> | undefined {
  const current = annotations?.[HAMI_REGISTER_ANNOTATION];
  if (register === undefined) return current === undefined ? undefined : { [HAMI_REGISTER_ANNOTATION]: null };
  const patch: Record<string, string> = {};
  if (current !== register) patch[HAMI_REGISTER_ANNOTATION] = register;
  const reply = handshakeReply(annotations?.[HAMI_HANDSHAKE_ANNOTATION], now);
  if (reply) patch[HAMI_HANDSHAKE_ANNOTATION] = reply;
  return Object.keys(patch).length > 0 ? patch : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Device lists

/** One device of a container in a HAMi device list. */
export interface HamiContainerDevice {
  /** GPU UUID. */
  uuid: string;
  /** Device type, `NVIDIA` for NVIDIA GPUs. */
  type: string;
  /** Memory granted in MiB. */
  memoryMiB: number;
  /** Cores granted in percent of the GPU; 0 means no limit. */
  cores: number;
}

/** A pod's devices, per container (init containers first), as HAMi's device lists hold them. */
export type HamiPodDevices = HamiContainerDevice[][];

const NON_NEGATIVE_INT = /^\d+$/;

/**
 * Parses a device list annotation (`vgpu-devices-to-allocate`, `vgpu-devices-allocated`):
 * `<uuid>,<type>,<memMiB>,<cores>:` per device, `;` after each container. Missing or malformed → an error
 * naming the annotation and the offending part.
 */
export function parseDeviceList(annotation: string, text: string | undefined): Parsed<HamiPodDevices> {
  if (text === undefined) return { error: `${annotation}: missing` };
  const containers = text.split(";");
  if (containers.at(-1) === "") containers.pop();
  const value: HamiPodDevices = [];
  for (const [c, entries] of containers.entries()) {
    const devices: HamiContainerDevice[] = [];
    for (const entry of entries.split(":").filter((e) => e.trim() !== "")) {
      const [uuid, type, memory, cores] = entry.split(",").map((part) => part.trim());
      const bad = !uuid
        ? "no device UUID"
        : !type
        ? "no device type"
        : !NON_NEGATIVE_INT.test(memory ?? "")
        ? `memory ${JSON.stringify(memory ?? "")} is not a whole number of MiB`
        : !NON_NEGATIVE_INT.test(cores ?? "")
        ? `cores ${JSON.stringify(cores ?? "")} is not a whole number`
        : undefined;
      if (bad) return { error: `${annotation}: container ${c}, device ${JSON.stringify(entry)}: ${bad}` };
      devices.push({ uuid, type, memoryMiB: Number(memory), cores: Number(cores) });
    }
    value.push(devices);
  }
  return { value };
}

/** Formats a device list annotation; a container without devices is a bare `;`. */
export function formatDeviceList(devices: HamiPodDevices): string {
  return devices.map((container) =>
    container.map((d) => `${d.uuid},${d.type},${d.memoryMiB},${d.cores}:`).join("") + ";"
  ).join("");
}

// ---------------------------------------------------------------------------------------------------------
// Node lock and bind

/** Who holds a node lock and since when. */
export interface HamiLock {
  /** When the lock was taken (RFC 3339). */
  time: string;
  /** Namespace of the pod being bound; absent in locks of old schedulers. */
  namespace?: string;
  /** Name of the pod being bound; absent in locks of old schedulers. */
  pod?: string;
}

/** The value of `hami.io/mutex.lock`: `<RFC3339>,<ns>,<pod>`. */
export function formatLock(time: Date, namespace: string, pod: string): string {
  return `${time.toISOString().replace(/\.\d+Z$/, "Z")},${namespace},${pod}`;
}

/** Parses `hami.io/mutex.lock` (`<RFC3339>[,<ns>,<pod>]`). */
export function parseLock(text: string): Parsed<HamiLock> {
  const [time, namespace, pod, ...rest] = text.split(",");
  if (Number.isNaN(Date.parse(time)) || rest.length > 0 || (namespace !== undefined && !pod)) {
    return {
      error: `${HAMI_LOCK_ANNOTATION}: expected "<RFC3339>,<namespace>,<pod>", got ${JSON.stringify(text)}`,
    };
  }
  return { value: namespace === undefined ? { time } : { time, namespace, pod } };
}

/** Whether a node lock names this pod (`…,<ns>,<pod>`): only then may the pod's bind release it. */
export function lockNamesPod(lock: string | undefined, namespace: string, pod: string): boolean {
  const parsed = lock === undefined ? undefined : parseLock(lock).value;
  return parsed?.namespace === namespace && parsed.pod === pod;
}

/** Inputs of {@link bindCompletion}. */
export interface BindInput {
  /** Namespace of the pod. */
  namespace: string;
  /** Name of the pod. */
  pod: string;
  /** The pod's annotations. */
  annotations: Readonly<Record<string, string>> | undefined;
  /** The node's `hami.io/mutex.lock`, if any. */
  nodeLock: string | undefined;
  /** UUIDs of the node's GPUs; a device list naming another GPU fails the bind. Unchecked when absent. */
  nodeGpus?: ReadonlySet<string>;
}

/** What completing a bind writes. */
export interface BindCompletion {
  /** Pod annotations to set: `bind-phase` and, on success, the consumed `vgpu-devices-to-allocate`. */
  podAnnotations: Record<string, string>;
  /** Whether to remove the node's lock (it names this pod). */
  releaseLock: boolean;
  /** Why the bind failed, naming the annotation and its bad part; absent on success. */
  error?: string;
}

/**
 * The plugin's half of a HAMi bind for a pod with `bind-phase=allocating` (undefined for any other pod):
 * every container's devices consumed (`;` per container) and `bind-phase=success`; a missing or malformed
 * device list, or a GPU the node does not have, gives `bind-phase=failed` with the error instead. Either way
 * the node's lock is released when it names the pod.
 */
export function bindCompletion(input: BindInput): BindCompletion | undefined {
  const annotations = input.annotations ?? {};
  if (annotations[HAMI_BIND_PHASE_ANNOTATION] !== "allocating") return undefined;
  const releaseLock = lockNamesPod(input.nodeLock, input.namespace, input.pod);
  const toAllocate = parseDeviceList(HAMI_TO_ALLOCATE_ANNOTATION, annotations[HAMI_TO_ALLOCATE_ANNOTATION]);
  const allocated = parseDeviceList(HAMI_ALLOCATED_ANNOTATION, annotations[HAMI_ALLOCATED_ANNOTATION]);
  const error = toAllocate.error ?? allocated.error ??
    unknownGpu(HAMI_TO_ALLOCATE_ANNOTATION, toAllocate.value!, input.nodeGpus);
  if (error) return { podAnnotations: { [HAMI_BIND_PHASE_ANNOTATION]: "failed" }, releaseLock, error };
  return {
    podAnnotations: {
      [HAMI_TO_ALLOCATE_ANNOTATION]: ";".repeat(toAllocate.value!.length),
      [HAMI_BIND_PHASE_ANNOTATION]: "success",
    },
    releaseLock,
  };
}

/** An error naming the first device of a list that is not one of the node's GPUs, if any. */
export function unknownGpu(
  annotation: string,
  devices: HamiPodDevices,
  nodeGpus: ReadonlySet<string> | undefined,
): string | undefined {
  const unknown = nodeGpus && devices.flat().find((d) => !nodeGpus.has(d.uuid));
  return unknown ? `${annotation}: GPU ${unknown.uuid} is not a GPU of the node` : undefined;
}
