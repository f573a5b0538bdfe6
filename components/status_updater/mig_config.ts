/**
 * MIG reconfiguration as the GPU operator's MIG manager does it: the node label `nvidia.com/mig.config`
 * names the wanted layout (else the pool's `migConfig` applies), and `nvidia.com/mig.config.state` says
 * how applying it went: `success`, `failed` (an impossible layout: the GPUs keep their current layout) or
 * `pending` (a pod still holds a MIG device the new layout removes: the change waits until it is gone).
 *
 * @module
 */
import { MIG_DISABLED, type MigLayout, MigLayoutError, resolveMigLayout } from "../core/mig_layout.ts";
import type { MigStrategy, PoolSpec } from "../core/model.ts";
import type { GpuHolder, NodeGpuDevice } from "../core/node_state.ts";
import { podHoldsResources, type PodLike } from "../core/allocation.ts";

/** Node label naming the wanted MIG layout. */
export const MIG_CONFIG_LABEL = "nvidia.com/mig.config";
/** Node label telling how applying the wanted layout went. */
export const MIG_CONFIG_STATE_LABEL = "nvidia.com/mig.config.state";

/** The layout a node's GPUs get and the state of the wanted one. */
export interface MigConfigDecision {
  /** The instances of each GPU (empty lists when MIG is off). */
  layout: MigLayout;
  /** Value of `nvidia.com/mig.config.state`; absent when the node has no MIG at all (strategy none, no MIG model). */
  state?: "success" | "failed" | "pending";
  /** Why the state is `failed` or `pending`. */
  reason?: string;
}

/** The layout the previous state records: each GPU's MIG devices as instances. */
function recordedLayout(previous: NodeGpuDevice[], gpuCount: number): MigLayout {
  const byIndex = new Map(previous.map((d) => [d.index, d.mig ?? []]));
  return Array.from(
    { length: gpuCount },
    (_, i) =>
      (byIndex.get(i) ?? []).map(({ profile, giId, placementStart, placementSize }) => ({
        profile,
        giId,
        placementStart,
        placementSize,
      })),
  );
}

/**
 * Decides a node's MIG layout from its label, its pool and the MIG devices its pods hold now.
 *
 * @param label The node's `nvidia.com/mig.config` value, if set.
 * @param previous The node's GPUs as its current state records them (holders included).
 * @param pods The pods bound to the node: a recorded holder counts only while its pod still holds resources.
 */
export function decideMigConfig(
  pool: PoolSpec,
  migStrategy: MigStrategy,
  label: string | undefined,
  previous: NodeGpuDevice[],
  pods: PodLike[],
): MigConfigDecision {
  const off: MigLayout = Array.from({ length: pool.gpuCount }, () => []);
  if (migStrategy === "none" || pool.model.migProfiles.length === 0) return { layout: off };
  const current = previous.length > 0 ? recordedLayout(previous, pool.gpuCount) : off;
  let wanted: MigLayout;
  try {
    wanted = resolveMigLayout(pool.model, label ?? pool.migConfig ?? MIG_DISABLED, pool.gpuCount);
  } catch (err) {
    if (!(err instanceof MigLayoutError)) throw err;
    return { layout: current, state: "failed", reason: `${MIG_CONFIG_LABEL}="${label}": ${err.message}` };
  }
  const key = (gpu: number, i: { giId: number; profile: string }) => `${gpu}/${i.giId}/${i.profile}`;
  const kept = new Set(wanted.flatMap((gpu, index) => gpu.map((i) => key(index, i))));
  const holding = new Set(pods.filter(podHoldsResources).map((p) => p.metadata?.uid));
  const holds = (holder?: GpuHolder): holder is GpuHolder => !!holder && holding.has(holder.podUid);
  const stuck = previous.flatMap((d) => [
    ...((wanted[d.index]?.length ?? 0) > 0 ? (d.holders ?? []).filter(holds) : []).map((h) =>
      `${h.namespace}/${h.pod} holds GPU ${d.index} whole`
    ),
    ...(d.mig ?? []).filter((m) => holds(m.holder) && !kept.has(key(d.index, m))).map((m) =>
      `${m.holder!.namespace}/${m.holder!.pod} holds ${m.profile} (GPU ${d.index}, GI ${m.giId})`
    ),
  ]);
  if (stuck.length > 0) return { layout: current, state: "pending", reason: stuck.join("; ") };
  return { layout: wanted, state: "success" };
}
