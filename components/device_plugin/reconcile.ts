/**
 * The device plugin's decision for a KWOK node, as a pure function: which extended resources
 * (`nvidia.com/gpu` and the pool's others) its status should advertise, and whether that needs a write.
 * GPUs are never taken away while a node is still in a pool but its state is momentarily missing
 * (a restart, a config reload): only a node that left the pool loses them.
 *
 * @module
 */
import { GPU_RESOURCE } from "../core/allocation.ts";
import type { NodeGpuState } from "../core/node_state.ts";

/** Inputs of {@link desiredResources}. */
export interface AdvertisementInput {
  /** Whether the node is a KWOK node. */
  kwok: boolean;
  /** Whether the node carries the pool label. */
  inPool: boolean;
  /** The node's state, if status-updater has written it. */
  state?: NodeGpuState;
}

/**
 * The resources to advertise, or undefined to leave the node as it is. An empty object removes every
 * resource fakegpu advertised before.
 */
export function desiredResources(input: AdvertisementInput): Record<string, string> | undefined {
  if (input.state && input.kwok) {
    const resources: Record<string, string> = {};
    // A DRA-only pool offers its GPUs as ResourceSlices (dra-plugin) instead.
    if (input.state.gpuOffer !== "dra") resources[GPU_RESOURCE] = String(input.state.devices.length);
    for (const [name, count] of Object.entries(input.state.otherResources)) {
      if (name !== GPU_RESOURCE) resources[name] = String(count);
    }
    return resources;
  }
  if (input.inPool && input.kwok) return undefined;
  return {};
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
  desired: Record<string, string>,
): boolean {
  for (const [name, value] of Object.entries(desired)) {
    if (status.capacity?.[name] !== value || status.allocatable?.[name] !== value) return true;
  }
  return [...owned].some((name) => !(name in desired));
}
