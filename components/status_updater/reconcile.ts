/**
 * status-updater's decisions, as pure functions: the desired state of a pool node (its GPUs and which
 * pod holds each), the node labels to apply, and the simulated utilization a pod asks for.
 *
 * @module
 */
import { z } from "zod";
import { assignGpus, type PodLike, type UnsatisfiedPod } from "../core/allocation.ts";
import { gpuDevices } from "../core/identity.ts";
import type { MigStrategy, PoolSpec } from "../core/model.ts";
import type { NodeGpuDevice, NodeGpuState, UtilizationRange } from "../core/node_state.ts";

/** Pod annotation asking for a simulated utilization: `"70"` or `"10-30"` (percent). */
export const UTILIZATION_ANNOTATION = "run.ai/simulated-gpu-utilization";

/** Inputs of {@link desiredNodeState}. */
export interface NodeStateInput {
  /** Node name. */
  node: string;
  /** Pool name (the node's pool label value). */
  poolName: string;
  /** The resolved pool. */
  pool: PoolSpec;
  /** Cluster MIG strategy. */
  migStrategy: MigStrategy;
  /** Whether the node is a KWOK node. */
  kwok: boolean;
  /** The node's current state, if any: its assignments are kept. */
  previous?: NodeGpuState;
  /** Pods bound to the node. */
  pods: PodLike[];
  /** Simulated utilization of a pod's GPUs. */
  utilizationOf?: (pod: PodLike) => UtilizationRange | undefined;
}

/** The desired node state and the pods that did not fit. */
export interface NodeStateDecision {
  /** What the node's state ConfigMap should hold. */
  state: NodeGpuState;
  /** Pods asking for more GPUs than the node has free. */
  unsatisfied: UnsatisfiedPod[];
}

/** The state a pool node should have: its pool's GPUs, with pods keeping the GPUs they hold. */
export function desiredNodeState(input: NodeStateInput): NodeStateDecision {
  const { pool } = input;
  const previous = new Map((input.previous?.devices ?? []).map((d) => [d.index, d]));
  const devices: NodeGpuDevice[] = gpuDevices(input.node, pool.model, pool.gpuCount).map((d) => {
    const holder = previous.get(d.index)?.holder;
    return holder ? { ...d, holder } : d;
  });
  const assignment = assignGpus(devices, input.pods, { utilizationOf: input.utilizationOf });
  return {
    state: {
      node: input.node,
      pool: input.poolName,
      kwok: input.kwok,
      gpu: {
        product: pool.model.name,
        model: pool.model.key,
        memoryMiB: pool.model.memoryMiB,
        driverVersion: pool.driverVersion,
        cudaVersion: pool.cudaVersion,
      },
      migStrategy: input.migStrategy,
      otherResources: { ...pool.otherResources },
      ...(pool.gpuOffer === undefined ? {} : { gpuOffer: pool.gpuOffer }),
      devices: assignment.devices,
    },
    unsatisfied: assignment.unsatisfied,
  };
}

/**
 * The label set to server-side apply, or undefined when the node already carries every desired label
 * and none of the labels fakegpu applied before has to go.
 */
export function labelsToApply(
  current: Record<string, string>,
  owned: Set<string>,
  desired: Record<string, string>,
): Record<string, string> | undefined {
  const changed = Object.entries(desired).some(([k, v]) => current[k] !== v);
  const stale = [...owned].some((k) => !(k in desired));
  return changed || stale ? desired : undefined;
}

const utilizationText = z.string().trim().regex(
  /^\d{1,3}(-\d{1,3})?$/,
  'expected a percentage "N" or a range "MIN-MAX"',
).transform((text, ctx) => {
  const [min, max = min] = text.split("-").map(Number);
  if (max > 100) ctx.addIssue({ code: "custom", message: "percentages must be between 0 and 100" });
  if (min > max) ctx.addIssue({ code: "custom", message: `range start ${min} exceeds its end ${max}` });
  return { min, max };
});

/** Result of {@link parseUtilization}: a range, or the reason the annotation was rejected. */
export type UtilizationParse = { range?: UtilizationRange; error?: string };

/** Reads a pod's utilization annotation; a bad value gives an error text instead of throwing. */
export function parseUtilization(pod: PodLike): UtilizationParse {
  const value = pod.metadata?.annotations?.[UTILIZATION_ANNOTATION];
  if (value === undefined) return {};
  const result = utilizationText.safeParse(value);
  if (result.success) return { range: result.data };
  return { error: `${UTILIZATION_ANNOTATION}: ${result.error.issues[0].message}, got "${value}"` };
}
