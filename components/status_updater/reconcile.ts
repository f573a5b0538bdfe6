/**
 * status-updater's decisions, as pure functions: the desired state of a pool node (its GPUs and which
 * pod holds each), the node labels to apply, and the simulated utilization a pod asks for.
 *
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import {
  assignGpus,
  type GpuUse,
  podGpuDemand,
  podHoldsResources,
  type PodLike,
  type UnsatisfiedPod,
} from "../core/allocation.ts";
import type { GpuFault } from "../core/gpu_faults.ts";
import { gpuDevices } from "../core/identity.ts";
import type { GpuModel, MigStrategy, PoolSpec } from "../core/model.ts";
import type { GpuHolder, NodeGpuDevice, NodeGpuState, UtilizationRange } from "../core/node_state.ts";
import { loadBusyEnergyJ, reservedMiB } from "../core/telemetry.ts";
import { migDraDeviceName, type MigLayout } from "../core/mig_layout.ts";
import { assignMigDevices } from "./mig_devices.ts";

/** Pod annotation asking for a simulated utilization: `"70"` or `"10-30"` (percent). */
export const UTILIZATION_ANNOTATION = "run.ai/simulated-gpu-utilization";
/** Pod annotation asking for a simulated framebuffer use per GPU: `"60%"` of usable memory, `"20Gi"`, `"4096Mi"`. */
export const MEMORY_ANNOTATION = "fakegpu.io/simulated-gpu-memory";

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
  /** Simulated framebuffer use (MiB) of each of a pod's GPUs on the given model. */
  memoryOf?: (pod: PodLike, model: GpuModel) => number | undefined;
  /** Faults of the node's GPUs by index (from the node's fault annotation). */
  faults?: ReadonlyMap<number, GpuFault>;
  /** The time of the decision: when new holders and faults start. @default new Date() */
  now?: Date;
  /**
   * GPUs whose users were decided elsewhere (ResourceClaims, the kubelet, time-slicing, HAMi, KAI fractions):
   * GPU index → the pods' uses. These GPUs go to those pods, with the memory and share granted; the pods get no
   * other GPUs for their `nvidia.com/gpu` limits (on a DRA-only pool the scheduler turns such limits into a claim).
   */
  claimed?: ReadonlyMap<number, GpuUse[]>;
  /**
   * MIG devices held through ResourceClaims: name as dra-plugin publishes it (`gpu-<minor>-mig-…`) → UIDs of
   * the pods using it (see `claimedGpus`). These MIG devices go to those pods, as claimed GPUs do.
   */
  claimedMig?: ReadonlyMap<string, string[]>;
  /** MIG instances of each GPU (see `decideMigConfig`); a GPU with instances is only handed out by MIG device. */
  migLayout?: MigLayout;
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
    const holders = previous.get(d.index)?.holders;
    return holders ? { ...d, holders } : d;
  });
  const claimed = input.claimed ?? new Map<number, GpuUse[]>();
  const claimedMig = input.claimedMig ?? new Map<string, string[]>();
  const claimPods = new Set([
    ...[...claimed.values()].flat().map((use) => use.podUid),
    ...[...claimedMig.values()].flat(),
  ]);
  const unclaimedPods = input.pods.filter((p) => !claimPods.has(p.metadata?.uid ?? ""));
  const isMig = (d: NodeGpuDevice) => (input.migLayout?.[d.index]?.length ?? 0) > 0;
  // Under strategy single a MIG node's nvidia.com/gpu are its MIG devices, handed out below.
  const migAsGpus = input.migStrategy === "single" && devices.some(isMig);
  const assignment = assignGpus(
    devices.filter((d) => !claimed.has(d.index) && !isMig(d)),
    migAsGpus ? [] : unclaimedPods,
    { utilizationOf: input.utilizationOf },
  );
  const now = input.now ?? new Date();
  const podsByUid = new Map(input.pods.map((p) => [p.metadata?.uid, p]));
  const assigned = new Map(assignment.devices.map((d) => [d.index, d]));
  const withHolders = devices.map((d) => {
    const { holders: _previous, ...whole } = d;
    const holders = claimHolders(claimed.get(d.index) ?? [], podsByUid, input.utilizationOf);
    return assigned.get(d.index) ?? (holders.length ? { ...whole, holders } : whole);
  });
  const memoryOf = (holder: GpuHolder) => {
    const pod = podsByUid.get(holder.podUid);
    return pod ? input.memoryOf?.(pod, pool.model) : undefined;
  };
  const simulated = withHolders.map((d) =>
    withSimulation(d, previous.get(d.index), pool.model, now, input.faults?.get(d.index), memoryOf)
  );
  const mig = assignMigDevices(
    simulated,
    input.migLayout ?? [],
    input.previous?.devices ?? [],
    unclaimedPods,
    input.utilizationOf,
    migAsGpus,
    (gpu, instance) => {
      const mine = claimedMig.get(migDraDeviceName(pool.model, gpu.index, instance));
      const uses = (mine ?? []).map((podUid) => ({ podUid }));
      return mine && { holder: claimHolders(uses, podsByUid, input.utilizationOf)[0] };
    },
  );
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
      ...(pool.replicas === undefined ? {} : { replicas: pool.replicas }),
      devices: mig.devices,
    },
    unsatisfied: [...assignment.unsatisfied, ...mig.unsatisfied],
  };
}

/**
 * The holders of a device whose users were decided elsewhere: its pods still running, in the order given, each
 * with the container asking for GPUs (else its first), its utilization and the memory and share it was granted.
 */
function claimHolders(
  uses: readonly GpuUse[],
  podsByUid: Map<string | undefined, PodLike>,
  utilizationOf: NodeStateInput["utilizationOf"],
): GpuHolder[] {
  return uses.flatMap((use) => {
    const pod = podsByUid.get(use.podUid);
    if (!pod || !podHoldsResources(pod)) return [];
    const utilization = utilizationOf?.(pod);
    return [{
      namespace: pod.metadata?.namespace ?? "",
      pod: pod.metadata?.name ?? "",
      podUid: use.podUid,
      container: podGpuDemand(pod).containers[0]?.container ?? pod.spec?.containers?.[0]?.name ?? "",
      ...(utilization ? { utilization } : {}),
      ...(use.memoryMiB === undefined ? {} : { memoryUsedMiB: use.memoryMiB }),
      ...(use.share === undefined ? {} : { share: use.share }),
    }];
  });
}

/** Whether a holder's load is unchanged: the same pod with the same utilization and share. */
function sameLoad(a: GpuHolder, b: GpuHolder): boolean {
  return a.podUid === b.podUid && a.share === b.share && isDeepStrictEqual(a.utilization, b.utilization);
}

/**
 * A device with what the telemetry needs to stay continuous: each holder's start (`since`) and memory use,
 * the energy earlier loads drew (folded in when the holders or their utilization change, so the energy
 * counter never falls back), and the GPU's faults with the time they were switched on.
 */
function withSimulation(
  device: NodeGpuDevice,
  before: NodeGpuDevice | undefined,
  model: GpuModel,
  now: Date,
  faults: GpuFault | undefined,
  memoryOf: (holder: GpuHolder) => number | undefined,
): NodeGpuDevice {
  const { holders: assigned = [], loadSince: _loadSince, ...identity } = device;
  const old = before?.holders ?? [];
  const stamp = now.toISOString();
  let continuing = 0;
  const holders = assigned.map((holder) => {
    const prior = old.find((h) => sameLoad(h, holder));
    if (prior) continuing++;
    const memory = memoryOf(holder) ?? holder.memoryUsedMiB;
    return {
      ...holder,
      ...(memory === undefined ? {} : { memoryUsedMiB: memory }),
      since: prior?.since ?? stamp,
    };
  });
  const unchanged = continuing === old.length && continuing === holders.length;
  let busyEnergyJ = before?.busyEnergyJ ?? 0;
  if (old.length > 0 && !unchanged) busyEnergyJ += loadBusyEnergyJ(model, before!, now.getTime() / 1000);
  const result: NodeGpuDevice = { ...identity };
  if (holders.length > 0) result.holders = holders;
  // A holder left and the others stayed: their load changes now although none of them starts now.
  const loadSince = unchanged
    ? before?.loadSince
    : continuing === holders.length && holders.length > 0
    ? stamp
    : undefined;
  if (loadSince) result.loadSince = loadSince;
  if (faults && Object.keys(faults).length) {
    result.faults = faults;
    const unchangedFaults = before?.faultsSince && isDeepStrictEqual(before.faults, faults);
    result.faultsSince = unchangedFaults ? before!.faultsSince : stamp;
  }
  if (busyEnergyJ > 0) result.busyEnergyJ = Math.ceil(busyEnergyJ);
  return result;
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

const memoryText = z.string().trim().regex(
  /^(\d+(\.\d+)?%|\d+(Mi|Gi)?)$/,
  'expected a share of the usable memory "60%" or a size "20Gi", "4096Mi"',
);

/** Result of {@link parseMemoryUse}: MiB per GPU, or the reason the annotation was rejected. */
export type MemoryParse = { mib?: number; error?: string };

/** Reads a pod's memory annotation for a GPU of `model`; a bad value gives an error text instead of throwing. */
export function parseMemoryUse(pod: PodLike, model: GpuModel): MemoryParse {
  const value = pod.metadata?.annotations?.[MEMORY_ANNOTATION];
  if (value === undefined) return {};
  const result = memoryText.safeParse(value);
  if (!result.success) {
    return { error: `${MEMORY_ANNOTATION}: ${result.error.issues[0].message}, got "${value}"` };
  }
  const text = result.data;
  const usable = model.memoryMiB - reservedMiB(model);
  const mib = text.endsWith("%")
    ? Math.round((usable * parseFloat(text)) / 100)
    : parseFloat(text) * (text.endsWith("Gi") ? 1024 : 1);
  if (mib > usable) {
    return { error: `${MEMORY_ANNOTATION}: ${value} exceeds the ${usable} MiB usable on ${model.name}` };
  }
  return { mib };
}
