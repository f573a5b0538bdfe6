/**
 * KAI scheduler's fractional GPUs, as status-updater simulates the node side of them. KAI's binder puts a
 * reservation pod (`nvidia.com/gpu: 1`, label `runai-gpu-group`) in the reservation namespace on the chosen node
 * and waits for the annotation `run.ai/reserve_for_gpu_index=<GPU UUID>` on it; the fraction pods of that group
 * (annotation `gpu-fraction` or `gpu-memory`) then use that GPU. Pure functions: which GPU each reservation
 * holds, which reservations still need the annotation, and the fraction pods' uses of the reserved GPUs.
 *
 * @module
 */
import { z } from "zod";
import { type GpuUse, podHoldsResources, type PodLike } from "../core/allocation.ts";
import type { NodeGpuDevice } from "../core/node_state.ts";

/** Namespace of KAI's reservation pods unless configured otherwise. */
export const DEFAULT_RESERVATION_NAMESPACE = "runai-reservation";
/** Annotation on a reservation pod naming the UUID of the GPU it reserves. */
export const RESERVED_GPU_ANNOTATION = "run.ai/reserve_for_gpu_index";
/** Label joining a reservation pod and the fraction pods sharing its GPU. */
export const GPU_GROUP_LABEL = "runai-gpu-group";
/** Fraction pod annotation: the part of a GPU it asked for, e.g. `"0.5"`. */
export const GPU_FRACTION_ANNOTATION = "gpu-fraction";
/** Fraction pod annotation: the GPU memory it asked for, MiB. */
export const GPU_MEMORY_ANNOTATION = "gpu-memory";

/** Pod annotations and labels the fractions logic reads (for `slimPod`). */
export const KAI_POD_KEYS = {
  annotations: [RESERVED_GPU_ANNOTATION, GPU_FRACTION_ANNOTATION, GPU_MEMORY_ANNOTATION],
  labels: [GPU_GROUP_LABEL],
} as const;

/** A pod the fractions logic could not read, with the reason (for a Warning Event). */
export interface FractionProblem {
  /** The pod. */
  pod: PodLike;
  /** What is wrong, naming the annotation. */
  message: string;
}

/** What {@link fractionalGpus} decided for one node. */
export interface FractionalGpus {
  /** GPU index → the uses of the fraction pods sharing it (empty while none runs): reserved, given to no one else. */
  reserved: Map<number, GpuUse[]>;
  /** UIDs of the reservation pods already holding a GPU by annotation: they are not holders themselves. */
  reservations: Set<string>;
  /** Pods with an annotation that cannot be used. */
  problems: FractionProblem[];
}

const fractionText = z.string().trim().regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, "expected a number in (0, 1]")
  .transform(Number).refine((n) => n > 0, "expected a number in (0, 1]");
const memoryText = z.string().trim().regex(/^\d+$/, "expected MiB as a whole number").transform(Number)
  .refine((n) => n > 0, "expected a positive number of MiB");

/** Whether a pod is one of KAI's reservation pods. */
export function isReservationPod(pod: PodLike, reservationNamespace: string): boolean {
  return pod.metadata?.namespace === reservationNamespace && !!pod.metadata?.labels?.[GPU_GROUP_LABEL];
}

/** Whether a pod takes part in KAI's GPU sharing (a reservation or a fraction pod). */
export function inGpuGroup(pod: PodLike): boolean {
  return !!pod.metadata?.labels?.[GPU_GROUP_LABEL];
}

/** A fraction pod's use of its group's GPU: the share and memory it asked for, or the reason it cannot be read. */
function fractionUse(pod: PodLike, memoryMiB: number): { use: GpuUse; problem?: string } {
  const podUid = pod.metadata?.uid ?? "";
  const annotations = pod.metadata?.annotations ?? {};
  const fraction = annotations[GPU_FRACTION_ANNOTATION];
  const memory = annotations[GPU_MEMORY_ANNOTATION];
  if (fraction !== undefined) {
    const parsed = fractionText.safeParse(fraction);
    if (parsed.success) {
      return { use: { podUid, share: parsed.data, memoryMiB: Math.round(parsed.data * memoryMiB) } };
    }
    return {
      use: { podUid },
      problem: `${GPU_FRACTION_ANNOTATION}: ${parsed.error.issues[0].message}, got "${fraction}"`,
    };
  }
  if (memory !== undefined) {
    const parsed = memoryText.safeParse(memory);
    if (parsed.success && parsed.data <= memoryMiB) {
      return { use: { podUid, share: parsed.data / memoryMiB, memoryMiB: parsed.data } };
    }
    const reason = parsed.success ? `more than the GPU's ${memoryMiB} MiB` : parsed.error.issues[0].message;
    return { use: { podUid }, problem: `${GPU_MEMORY_ANNOTATION}: ${reason}, got "${memory}"` };
  }
  return { use: { podUid } };
}

/**
 * The GPUs of a node reserved for KAI's GPU groups: each reservation pod whose annotation names one of the node's
 * GPUs reserves it, and the running fraction pods of its group (pods outside the reservation namespace with the
 * same `runai-gpu-group`) use it with their fraction of its memory. A reservation naming a GPU the node does not
 * have, and an unreadable fraction, are problems (the fraction pod still uses the GPU, without a limit).
 */
export function fractionalGpus(
  pods: readonly PodLike[],
  devices: readonly Pick<NodeGpuDevice, "index" | "uuid">[],
  memoryMiB: number,
  reservationNamespace: string,
): FractionalGpus {
  const indexOf = new Map(devices.map((d) => [d.uuid, d.index]));
  const result: FractionalGpus = { reserved: new Map(), reservations: new Set(), problems: [] };
  const groupGpu = new Map<string, number>();
  for (const pod of pods) {
    const uuid = pod.metadata?.annotations?.[RESERVED_GPU_ANNOTATION];
    if (!isReservationPod(pod, reservationNamespace) || !podHoldsResources(pod) || uuid === undefined) {
      continue;
    }
    const index = indexOf.get(uuid.trim());
    if (index === undefined) {
      result.problems.push({
        pod,
        message: `${RESERVED_GPU_ANNOTATION}: "${uuid}" is not a GPU of this node`,
      });
      continue;
    }
    groupGpu.set(pod.metadata!.labels![GPU_GROUP_LABEL], index);
    result.reservations.add(pod.metadata?.uid ?? "");
    result.reserved.set(index, []);
  }
  for (const pod of pods) {
    if (!inGpuGroup(pod) || isReservationPod(pod, reservationNamespace) || !podHoldsResources(pod)) continue;
    const index = groupGpu.get(pod.metadata!.labels![GPU_GROUP_LABEL]);
    if (index === undefined) continue;
    const { use, problem } = fractionUse(pod, memoryMiB);
    if (problem) result.problems.push({ pod, message: problem });
    result.reserved.get(index)!.push(use);
  }
  return result;
}

/**
 * Reservation pods that hold a GPU in the decided devices but do not carry its UUID yet, with the UUID to write:
 * KAI's binder waits for it.
 */
export function reservationsToAnnotate(
  pods: readonly PodLike[],
  devices: readonly NodeGpuDevice[],
  reservationNamespace: string,
): { pod: PodLike; uuid: string }[] {
  const uuidOf = new Map(
    devices.flatMap((d) => d.holders?.length === 1 ? [[d.holders[0].podUid, d.uuid]] : []),
  );
  return pods.flatMap((pod) => {
    const uuid = uuidOf.get(pod.metadata?.uid ?? "");
    const pending = isReservationPod(pod, reservationNamespace) &&
      pod.metadata?.annotations?.[RESERVED_GPU_ANNOTATION] === undefined;
    return pending && uuid ? [{ pod, uuid }] : [];
  });
}
