/**
 * Which GPUs of a node each pod holds: the pod's GPU demand by Kubernetes' rules for init containers
 * and sidecars, and a stable assignment of free GPUs to pods. Pure functions: the same pods and the
 * same previous assignment always give the same result, so a restarted status-updater rebuilds exactly
 * the assignment it had.
 *
 * @module
 */
import type { GpuHolder, NodeGpuDevice, UtilizationRange } from "./node_state.ts";

/** The resource name of a whole GPU. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/**
 * Pod annotation with the UUIDs of the GPUs a real node's kubelet allocated to the pod (comma-separated), written
 * by the node's device plugin; status-updater records exactly these GPUs for the pod.
 */
export const KUBELET_GPUS_ANNOTATION = "fakegpu.io/kubelet-gpus";

/**
 * The GPUs kubelets allocated to `pods` ({@link KUBELET_GPUS_ANNOTATION}) as GPU index → UIDs of the pods using
 * it (several with time-slicing), for the devices given; UUIDs not among them are ignored.
 */
export function kubeletAllocatedGpus(
  pods: Iterable<PodLike>,
  devices: readonly { index: number; uuid: string }[],
): Map<number, string[]> {
  const indexOf = new Map(devices.map((d) => [d.uuid, d.index]));
  const result = new Map<number, string[]>();
  for (const pod of pods) {
    const uid = pod.metadata?.uid;
    const value = pod.metadata?.annotations?.[KUBELET_GPUS_ANNOTATION];
    if (!uid || !value) continue;
    for (const uuid of value.split(",")) {
      const index = indexOf.get(uuid.trim());
      if (index !== undefined) result.set(index, [...new Set([...(result.get(index) ?? []), uid])]);
    }
  }
  return result;
}

/**
 * A pod's use of one GPU decided outside fakegpu's own choice: a ResourceClaim's allocation, the kubelet's (real
 * nodes), time-slicing, or a sharing scheduler's (HAMi, KAI fractions) with the memory and share it granted.
 */
export interface GpuUse {
  /** UID of the pod. */
  podUid: string;
  /** Framebuffer the scheduler granted the pod on this GPU, MiB. */
  memoryMiB?: number;
  /** Part of the GPU granted (0 < share ≤ 1); absent for no limit. */
  share?: number;
}

/** Uses without limits for a GPU index → pod UIDs map. */
export function plainUses(byIndex: ReadonlyMap<number, readonly string[]>): Map<number, GpuUse[]> {
  return new Map([...byIndex].map(([index, uids]) => [index, uids.map((podUid) => ({ podUid }))]));
}

/** The parts of a container that GPU assignment reads. */
export interface ContainerLike {
  /** Container name. */
  name: string;
  /** `Always` marks an init container as a sidecar. */
  restartPolicy?: string;
  /** Resource requests and limits. */
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
}

/** The parts of a pod that GPU assignment reads (a subset of core/v1 Pod). */
export interface PodLike {
  /** Pod metadata. */
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: string | Date;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    deletionTimestamp?: string | Date;
  };
  /** Pod spec. */
  spec?: { nodeName?: string; containers?: ContainerLike[]; initContainers?: ContainerLike[] };
  /** Pod status. */
  status?: { phase?: string };
}

function slimContainer(c: ContainerLike): ContainerLike {
  return {
    name: c.name,
    ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}),
    ...(c.resources ? { resources: { limits: c.resources.limits, requests: c.resources.requests } } : {}),
  };
}

/** The entries of `map` whose keys are among `keys`. */
function picked(map: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => map?.[k] !== undefined).map((k) => [k, map![k]]));
}

/**
 * A pod trimmed to what GPU assignment reads (identity, the annotations and labels it names, containers'
 * resources, node and phase), so a role watching every pod holds little per pod.
 */
export function slimPod<P extends PodLike & { metadata?: { resourceVersion?: string } }>(
  pod: P,
  annotationKeys: readonly string[] = [],
  labelKeys: readonly string[] = [],
): P {
  const meta = pod.metadata ?? {};
  const annotations = picked(meta.annotations, annotationKeys);
  const labels = picked(meta.labels, labelKeys);
  return {
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
      creationTimestamp: meta.creationTimestamp,
      ...(meta.deletionTimestamp ? { deletionTimestamp: meta.deletionTimestamp } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ...(Object.keys(labels).length ? { labels } : {}),
    },
    spec: {
      nodeName: pod.spec?.nodeName,
      containers: (pod.spec?.containers ?? []).map(slimContainer),
      ...(pod.spec?.initContainers ? { initContainers: pod.spec.initContainers.map(slimContainer) } : {}),
    },
    status: { phase: pod.status?.phase },
  } as P;
}

/** How many GPUs one container uses and how it runs. */
export interface ContainerDemand {
  /** Container name. */
  container: string;
  /** GPUs the container asks for. */
  count: number;
  /** `init` runs before the app containers, `sidecar` alongside them, `app` is a regular container. */
  kind: "init" | "sidecar" | "app";
}

/** A pod's GPU demand: the effective pod total and each container's part, in start order. */
export interface PodDemand {
  /** GPUs the pod holds while it runs (what the scheduler reserves). */
  total: number;
  /** Containers asking for GPUs, init containers (and sidecars) first, in spec order. */
  containers: ContainerDemand[];
}

/** A pod that could not get all the GPUs it asks for. */
export interface UnsatisfiedPod {
  /** `namespace/name` of the pod. */
  pod: string;
  /** GPUs the pod asks for. */
  needed: number;
  /** GPUs it holds. */
  held: number;
}

/** Result of {@link assignGpus}. */
export interface Assignment {
  /** The node's devices with their new holders. */
  devices: NodeGpuDevice[];
  /** Pods asking for more GPUs than are free (the node is over-committed, e.g. after its pool shrank). */
  unsatisfied: UnsatisfiedPod[];
}

/** Options of {@link assignGpus}. */
export interface AssignOptions {
  /** Resource name to read from container limits. @default "nvidia.com/gpu" */
  resource?: string;
  /** The simulated utilization of a pod's GPUs, if it has one. */
  utilizationOf?: (pod: PodLike) => UtilizationRange | undefined;
}

function containerCount(container: ContainerLike, resource: string): number {
  const raw = container.resources?.limits?.[resource] ?? container.resources?.requests?.[resource];
  if (raw === undefined) return 0;
  const count = typeof raw === "number" ? raw : Number.parseInt(String(raw), 10);
  return Number.isFinite(count) && count > 0 ? Math.floor(count) : 0;
}

/**
 * A pod's GPU demand by Kubernetes' effective-request rule: the larger of (app containers plus
 * sidecars) and, for each regular init container, its own request plus the sidecars started before it.
 */
export function podGpuDemand(pod: PodLike, resource: string = GPU_RESOURCE): PodDemand {
  const containers: ContainerDemand[] = [];
  let sidecars = 0;
  let initPeak = 0;
  for (const c of pod.spec?.initContainers ?? []) {
    const count = containerCount(c, resource);
    if (c.restartPolicy === "Always") {
      sidecars += count;
      if (count > 0) containers.push({ container: c.name, count, kind: "sidecar" });
    } else {
      initPeak = Math.max(initPeak, sidecars + count);
      if (count > 0) containers.push({ container: c.name, count, kind: "init" });
    }
  }
  let apps = 0;
  for (const c of pod.spec?.containers ?? []) {
    const count = containerCount(c, resource);
    apps += count;
    if (count > 0) containers.push({ container: c.name, count, kind: "app" });
  }
  return { total: Math.max(initPeak, sidecars + apps), containers };
}

/** Whether a pod still holds its resources: bound and not finished (a terminating pod still holds them). */
export function podHoldsResources(pod: PodLike): boolean {
  const phase = pod.status?.phase;
  return Boolean(pod.spec?.nodeName) && phase !== "Succeeded" && phase !== "Failed";
}

function podKey(pod: PodLike): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

function creationOrder(a: PodLike, b: PodLike): number {
  const ta = String(a.metadata?.creationTimestamp ?? "");
  const tb = String(b.metadata?.creationTimestamp ?? "");
  if (ta !== tb) return ta < tb ? -1 : 1;
  return podKey(a) < podKey(b) ? -1 : podKey(a) > podKey(b) ? 1 : 0;
}

/**
 * Which container uses each of a pod's GPUs (given in index order): sidecars and app containers get
 * disjoint GPUs; an init container reuses the GPUs after those of the sidecars started before it.
 */
export function containerForEachGpu(demand: PodDemand, gpuCount: number): string[] {
  const owners: (string | undefined)[] = new Array(gpuCount).fill(undefined);
  let next = 0;
  let sidecarsSoFar = 0;
  const initUses: Array<{ container: string; from: number; count: number }> = [];
  for (const c of demand.containers) {
    if (c.kind === "init") {
      initUses.push({ container: c.container, from: sidecarsSoFar, count: c.count });
      continue;
    }
    for (let i = 0; i < c.count && next < gpuCount; i++) owners[next++] = c.container;
    if (c.kind === "sidecar") sidecarsSoFar += c.count;
  }
  for (const use of initUses) {
    for (let i = use.from; i < use.from + use.count && i < gpuCount; i++) owners[i] ??= use.container;
  }
  const fallback = demand.containers[0]?.container ?? "";
  return owners.map((o) => o ?? fallback);
}

/**
 * Assigns the node's GPUs to the pods bound to it. Pods keep the GPUs they already hold; GPUs of pods
 * that are gone or finished are freed; pods still short get the free GPUs with the lowest indexes, oldest
 * pod first. A pod that cannot get all its GPUs gets none beyond what it holds and is reported.
 */
export function assignGpus(
  devices: NodeGpuDevice[],
  pods: PodLike[],
  options: AssignOptions = {},
): Assignment {
  const resource = options.resource ?? GPU_RESOURCE;
  const active = pods
    .filter(podHoldsResources)
    .map((pod) => ({ pod, demand: podGpuDemand(pod, resource) }))
    .filter((p) => p.demand.total > 0 && p.pod.metadata?.uid)
    .sort((a, b) => creationOrder(a.pod, b.pod));
  const byUid = new Map(active.map((p) => [p.pod.metadata!.uid!, p]));

  const held = new Map<string, number[]>();
  const owner: (string | undefined)[] = devices.map((d) => {
    const uid = d.holders?.[0]?.podUid;
    const entry = uid === undefined ? undefined : byUid.get(uid);
    if (!entry || (held.get(uid!)?.length ?? 0) >= entry.demand.total) return undefined;
    held.set(uid!, [...(held.get(uid!) ?? []), d.index]);
    return uid;
  });

  const unsatisfied: UnsatisfiedPod[] = [];
  for (const { pod, demand } of active) {
    const uid = pod.metadata!.uid!;
    const mine = held.get(uid) ?? [];
    const missing = demand.total - mine.length;
    if (missing <= 0) continue;
    const free = devices.map((_d, i) => owner[i] === undefined ? i : -1).filter((i) => i >= 0);
    if (free.length < missing) {
      unsatisfied.push({ pod: podKey(pod), needed: demand.total, held: mine.length });
      continue;
    }
    for (const i of free.slice(0, missing)) owner[i] = uid;
    held.set(uid, [...mine, ...free.slice(0, missing).map((i) => devices[i].index)]);
  }

  const holderOf = new Map<number, GpuHolder>();
  for (const [uid, indexes] of held) {
    const { pod, demand } = byUid.get(uid)!;
    const sorted = [...indexes].sort((a, b) => a - b);
    const containers = containerForEachGpu(demand, sorted.length);
    const utilization = options.utilizationOf?.(pod);
    sorted.forEach((index, n) => {
      holderOf.set(index, {
        namespace: pod.metadata?.namespace ?? "",
        pod: pod.metadata?.name ?? "",
        podUid: uid,
        container: containers[n],
        ...(utilization ? { utilization } : {}),
      });
    });
  }
  const result = devices.map((d) => {
    const { holders: _old, ...identity } = d;
    const holder = holderOf.get(d.index);
    return holder ? { ...identity, holders: [holder] } : identity;
  });
  return { devices: result, unsatisfied };
}

/**
 * Time-slicing: which GPUs pods use when each GPU is shared `replicas` ways (every requested `nvidia.com/gpu` is
 * one replica), as GPU index → UIDs of the pods using it, oldest first. Pods keep the GPUs `previous` records for
 * them; a pod new to the node gets its replicas on distinct GPUs with the most replicas free, lowest index first
 * (NVIDIA's `distributed` policy); a pod that does not fit gets none.
 */
export function sharedGpus(
  pods: PodLike[],
  previous: readonly NodeGpuDevice[],
  gpuCount: number,
  replicas: number,
): Map<number, string[]> {
  const active = pods
    .filter(podHoldsResources)
    .map((pod) => ({ uid: pod.metadata?.uid ?? "", demand: podGpuDemand(pod).total }))
    .filter((p) => p.uid && p.demand > 0);
  const activeUids = new Set(active.map((p) => p.uid));
  const users = Array.from({ length: gpuCount }, (_, i) => {
    const d = previous.find((p) => p.index === i);
    return (d?.holders ?? []).map((h) => h.podUid).filter((uid) => activeUids.has(uid));
  });
  const placed = new Set(users.flat());
  const byAge = pods.filter((p) => activeUids.has(p.metadata?.uid ?? "")).sort(creationOrder);
  for (const pod of byAge) {
    const uid = pod.metadata!.uid!;
    if (placed.has(uid)) continue;
    let missing = podGpuDemand(pod).total;
    const picks: number[] = [];
    while (missing > 0) {
      const candidates = users.map((u, i) => ({
        i,
        free: replicas - u.length - picks.filter((p) => p === i).length,
      }))
        .filter((c) => c.free > 0)
        .sort((a, b) =>
          picks.filter((p) => p === a.i).length - picks.filter((p) => p === b.i).length ||
          b.free - a.free || a.i - b.i
        );
      if (candidates.length === 0) break;
      picks.push(candidates[0].i);
      missing--;
    }
    if (missing > 0) continue;
    for (const i of new Set(picks)) users[i].push(uid);
  }
  return new Map(users.flatMap((u, i) => u.length > 0 ? [[i, u] as [number, string[]]] : []));
}
