/**
 * The GPUs HAMi gave the pods of a node of a HAMi pool, as a pure function: each pod's
 * `hami.io/vgpu-devices-allocated` names the GPUs (by UUID) with the memory and cores HAMi granted, and
 * status-updater records exactly those instead of choosing GPUs itself.
 *
 * @module
 */
import { type GpuUse, podGpuDemand, type PodLike } from "../core/allocation.ts";
import { HAMI_ALLOCATED_ANNOTATION, parseDeviceList, unknownGpu } from "../core/hami.ts";
import type { GpuDevice } from "../core/model.ts";

/** A pod whose HAMi allocation cannot be used, and why. */
export interface HamiPodProblem {
  /** The pod. */
  pod: PodLike;
  /** The error, naming the annotation and the offending part. */
  error: string;
}

/** What HAMi allocated on one node. */
export interface HamiGpuUses {
  /** GPU index → the pods using it, first created first, with the memory and share HAMi granted. */
  uses: Map<number, GpuUse[]>;
  /** Pods asking for GPUs whose allocation is missing, malformed or names a GPU the node lacks: no GPU. */
  problems: HamiPodProblem[];
}

function createdOrder(a: PodLike, b: PodLike): number {
  const key = (p: PodLike) =>
    `${
      new Date(p.metadata?.creationTimestamp ?? 0).toISOString()
    } ${p.metadata?.namespace}/${p.metadata?.name}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

/**
 * The GPU uses of a HAMi node's pods from their `hami.io/vgpu-devices-allocated`: memory as granted, and
 * `share` = cores / 100 (at most 1) when HAMi limited the cores; a pod's entries for one GPU (several containers)
 * add up. A pod asking for GPUs without a usable allocation is a problem and uses no GPU.
 */
export function hamiGpuUses(pods: readonly PodLike[], devices: readonly GpuDevice[]): HamiGpuUses {
  const indexOf = new Map(devices.map((d) => [d.uuid, d.index]));
  const uses = new Map<number, GpuUse[]>();
  const problems: HamiPodProblem[] = [];
  for (const pod of [...pods].sort(createdOrder)) {
    const text = pod.metadata?.annotations?.[HAMI_ALLOCATED_ANNOTATION];
    if (text === undefined && podGpuDemand(pod).total === 0) continue;
    const parsed = parseDeviceList(HAMI_ALLOCATED_ANNOTATION, text);
    const error = parsed.error ??
      unknownGpu(HAMI_ALLOCATED_ANNOTATION, parsed.value!, new Set(indexOf.keys()));
    if (error) {
      problems.push({ pod, error });
      continue;
    }
    const mine = new Map<number, { memoryMiB: number; cores: number }>();
    for (const device of parsed.value!.flat()) {
      const index = indexOf.get(device.uuid)!;
      const sum = mine.get(index) ?? { memoryMiB: 0, cores: 0 };
      mine.set(index, { memoryMiB: sum.memoryMiB + device.memoryMiB, cores: sum.cores + device.cores });
    }
    for (const [index, { memoryMiB, cores }] of mine) {
      const use: GpuUse = {
        podUid: pod.metadata?.uid ?? "",
        memoryMiB,
        ...(cores > 0 ? { share: Math.min(1, cores / 100) } : {}),
      };
      uses.set(index, [...uses.get(index) ?? [], use]);
    }
  }
  return { uses, problems };
}
