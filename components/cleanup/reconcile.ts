/**
 * The cleanup's decisions, as pure functions: how to take a role's Lease away from its leader so that it
 * stops writing, and what fakegpu wrote on a Node that has to go.
 *
 * @module
 */
import { formatMicroTime } from "../core/kube/microtime.ts";
import type { LeaseSpec } from "../core/kube/lease.ts";
import { ownedMapKeys } from "../core/managed_fields.ts";
import { DEVICE_PLUGIN_MANAGER } from "../device_plugin/controller.ts";
import { STATUS_UPDATER_MANAGER } from "../status_updater/controller.ts";

/** Leader-election identity of the cleanup. */
export const CLEANUP_IDENTITY = "fakegpu-cleanup";

/** How long the cleanup's hold on a Lease lasts: long after the release is gone. */
export const CLEANUP_HOLD_SECONDS = 3600;

/**
 * The Lease spec that hands a role's Lease to the cleanup: the leader fails its next renewals and stops
 * leading within its renew deadline, and no candidate takes over while the hold lasts.
 */
export function cleanupLeaseSpec(current: LeaseSpec | undefined, now: Date): LeaseSpec {
  const taken = current?.holderIdentity && current.holderIdentity !== CLEANUP_IDENTITY;
  return {
    holderIdentity: CLEANUP_IDENTITY,
    leaseDurationSeconds: CLEANUP_HOLD_SECONDS,
    acquireTime: formatMicroTime(now),
    renewTime: formatMicroTime(now),
    leaseTransitions: (current?.leaseTransitions ?? 0) + (taken ? 1 : 0),
  };
}

/** Whether someone other than the cleanup may still be leading under `spec` at `now`. */
export function leaderMayBeActive(spec: LeaseSpec | undefined, now: Date): boolean {
  if (!spec?.holderIdentity || spec.holderIdentity === CLEANUP_IDENTITY) return false;
  const renewed = Date.parse(spec.renewTime ?? "");
  if (!Number.isFinite(renewed)) return false;
  return renewed + (spec.leaseDurationSeconds ?? 0) * 1000 > now.getTime();
}

/** A field manager's share of a Node and where it lives. */
export interface NodeWrite {
  /** Field manager. */
  manager: string;
  /** Path of the map the manager fills, e.g. `["metadata", "labels"]`. */
  path: string[];
  /** Subresource the manager writes through (`status`), if any. */
  subresource?: string;
}

/** What fakegpu's roles write on Nodes: status-updater's labels, the KWOK device plugin's resources. */
export const NODE_WRITES: readonly NodeWrite[] = [
  { manager: STATUS_UPDATER_MANAGER, path: ["metadata", "labels"] },
  { manager: DEVICE_PLUGIN_MANAGER, path: ["status", "capacity"], subresource: "status" },
];

/**
 * The writes of `NODE_WRITES` that still own something on the node: applying an empty object with that
 * manager removes exactly those fields (and nothing someone else also owns).
 */
export function nodeWritesToUndo(node: { metadata?: { managedFields?: unknown[] } }): NodeWrite[] {
  return NODE_WRITES.filter((w) =>
    ownedMapKeys(node, w.manager, w.path, w.subresource ? { subresource: w.subresource } : {}).size > 0
  );
}
