/**
 * The device plugin's decision for a KWOK node, as a pure function: which extended resources
 * (`nvidia.com/gpu` and the pool's others) its status should advertise, and whether that needs a write.
 * A GPU with a fault that makes it unhealthy stays in capacity but leaves allocatable.
 * GPUs are never taken away while a node is still in a pool but its state is momentarily missing
 * (a restart, a config reload): only a node that left the pool loses them.
 *
 * @module
 */
import { GPU_RESOURCE } from "../core/allocation.ts";
import { isGpuHealthy } from "../core/gpu_faults.ts";
import { migResourceName } from "../core/mig_layout.ts";
import type { NodeGpuState } from "../core/node_state.ts";

/** Inputs of {@link desiredResources}. */
export interface AdvertisementInput {
  /** Whether the node is a KWOK node. */
  kwok: boolean;
  /** Whether the node carries the pool label. */
  inPool: boolean;
  /** The node's state, if status-updater has written it. */
  state?: NodeGpuState;
  /** HAMi's split count when the node's pool shares its GPUs through HAMi: each GPU counts this many. */
  hamiSplitCount?: number;
}

/** What a KWOK node's status should advertise. */
export interface Advertisement {
  /** `status.capacity`: every GPU. */
  capacity: Record<string, string>;
  /** `status.allocatable`: the healthy GPUs only, as the kubelet does for a device plugin's unhealthy devices. */
  allocatable: Record<string, string>;
}

/**
 * The resources to advertise, or undefined to leave the node as it is. Empty maps remove every resource
 * fakegpu advertised before.
 */
export function desiredResources(input: AdvertisementInput): Advertisement | undefined {
  if (input.state && input.kwok) {
    const capacity: Record<string, string> = {};
    const allocatable: Record<string, string> = {};
    // A DRA-only pool offers its GPUs as ResourceSlices (dra-plugin) instead.
    if (input.state.gpuOffer !== "dra") {
      const replicas = input.hamiSplitCount ?? input.state.replicas ?? 1;
      const whole = input.state.devices.filter((d) => !d.mig?.length);
      capacity[GPU_RESOURCE] = String(whole.length * replicas);
      allocatable[GPU_RESOURCE] = String(whole.filter((d) => isGpuHealthy(d.faults)).length * replicas);
      addMigResources(input.state, capacity, allocatable);
    }
    for (const [name, count] of Object.entries(input.state.otherResources)) {
      if (name !== GPU_RESOURCE) capacity[name] = allocatable[name] = String(count);
    }
    return { capacity, allocatable };
  }
  if (input.inPool && input.kwok) return undefined;
  return { capacity: {}, allocatable: {} };
}

/**
 * MIG devices as the NVIDIA device plugin advertises them: under `mixed` one `nvidia.com/mig-<profile>` per
 * profile, under `single` counted in `nvidia.com/gpu`; a MIG device of an unhealthy GPU leaves allocatable.
 */
function addMigResources(
  state: NodeGpuState,
  capacity: Record<string, string>,
  allocatable: Record<string, string>,
): void {
  const add = (into: Record<string, string>, name: string) =>
    into[name] = String(Number(into[name] ?? 0) + 1);
  for (const device of state.devices) {
    for (const mig of device.mig ?? []) {
      const name = state.migStrategy === "single" ? GPU_RESOURCE : migResourceName(mig.profile);
      add(capacity, name);
      if (isGpuHealthy(device.faults)) add(allocatable, name);
      else allocatable[name] ??= "0";
    }
  }
}

/** Node status fields the advertisement writes. */
export interface NodeResources {
  /** `status.capacity`. */
  capacity?: Record<string, string>;
  /** `status.allocatable`. */
  allocatable?: Record<string, string>;
}

/**
 * Whether the node status must be written: a desired resource is missing or different in capacity or
 * allocatable, or a resource fakegpu advertised before is no longer desired.
 */
export function advertisementNeedsWrite(
  status: NodeResources,
  owned: Set<string>,
  desired: Advertisement,
): boolean {
  for (const field of ["capacity", "allocatable"] as const) {
    for (const [name, value] of Object.entries(desired[field])) {
      if (status[field]?.[name] !== value) return true;
    }
  }
  return [...owned].some((name) => !(name in desired.capacity));
}
