/**
 * GPUs allocated through Dynamic Resource Allocation, as pure functions: which GPUs of a node the
 * ResourceClaims allocated by the scheduler hold (results of driver `gpu.nvidia.com` whose pool is the node
 * and whose device is `gpu-<index>` or one of its MIG devices `gpu-<minor>-mig-…`, as dra-plugin publishes
 * them) and which pods use each (the claim's `reservedFor`, so every pod sharing a claim uses its GPUs).
 *
 * @module
 */
import type { KubeObject } from "../core/kube/client.ts";

/** Driver whose allocations are GPUs of the fleet (dra-plugin's slices). */
const GPU_DRIVER = "gpu.nvidia.com";

/** One allocated device of a claim. */
export interface ClaimResult {
  /** Driver of the device. */
  driver?: string;
  /** Pool of the device: the node, for `gpu.nvidia.com`. */
  pool?: string;
  /** Device name, e.g. `gpu-3`. */
  device?: string;
}

/** A `resource.k8s.io/v1` ResourceClaim as status-updater reads it. */
export interface ClaimLike extends KubeObject {
  /** What the scheduler allocated and which pods use it. */
  status?: {
    allocation?: { devices?: { results?: ClaimResult[] } };
    reservedFor?: { resource?: string; name?: string; uid?: string }[];
  };
}

function gpuResults(claim: ClaimLike): ClaimResult[] {
  return (claim.status?.allocation?.devices?.results ?? []).filter((r) => r.driver === GPU_DRIVER);
}

/**
 * A claim trimmed to what status-updater reads (identity, `gpu.nvidia.com` results, pods it is reserved
 * for), with its kind so Events about it name it.
 */
export function slimClaim(claim: ClaimLike): ClaimLike {
  const meta = claim.metadata ?? {};
  return {
    apiVersion: "resource.k8s.io/v1",
    kind: "ResourceClaim",
    metadata: {
      name: meta.name,
      namespace: meta.namespace,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
    },
    status: {
      allocation: { devices: { results: gpuResults(claim) } },
      reservedFor: (claim.status?.reservedFor ?? []).filter((r) => r.resource === "pods"),
    },
  };
}

/** The nodes whose GPUs a claim holds. */
export function claimNodes(claim: ClaimLike | undefined): string[] {
  return [...new Set(gpuResults(claim ?? {}).map((r) => r.pool ?? ""))].filter(Boolean);
}

/** Whether a claim is reserved for the pod with this UID. */
export function claimReservedFor(claim: ClaimLike, podUid: string | undefined): boolean {
  return podUid !== undefined && (claim.status?.reservedFor ?? []).some((r) => r.uid === podUid);
}

/** Result of {@link claimedGpus}. */
export interface ClaimedGpus {
  /** GPU index → UIDs of the pods using it through claims, in claim order. */
  byIndex: Map<number, string[]>;
  /** MIG device name (`gpu-<minor>-mig-…`, as dra-plugin publishes it) → UIDs of the pods using it. */
  byMigDevice: Map<string, string[]>;
  /** Claim results naming a device the node does not have. */
  unknown: { claim: ClaimLike; device: string }[];
}

function addPods<K>(map: Map<K, string[]>, key: K, pods: string[]): void {
  map.set(key, [...new Set([...(map.get(key) ?? []), ...pods])]);
}

/**
 * Which GPUs of `node` (with `gpuCount` GPUs) and which of its MIG devices (`migDevices`: the names
 * dra-plugin publishes them under) the claims hold, and for which pods.
 */
export function claimedGpus(
  claims: Iterable<ClaimLike>,
  node: string,
  gpuCount: number,
  migDevices: ReadonlySet<string> = new Set(),
): ClaimedGpus {
  const byIndex = new Map<number, string[]>();
  const byMigDevice = new Map<string, string[]>();
  const unknown: ClaimedGpus["unknown"] = [];
  for (const claim of claims) {
    const pods = (claim.status?.reservedFor ?? []).map((r) => r.uid ?? "").filter(Boolean);
    for (const result of gpuResults(claim)) {
      if (result.pool !== node) continue;
      const device = result.device ?? "";
      const index = Number(/^gpu-(\d+)$/.exec(device)?.[1] ?? NaN);
      if (index < gpuCount) addPods(byIndex, index, pods);
      else if (migDevices.has(device)) addPods(byMigDevice, device, pods);
      else unknown.push({ claim, device });
    }
  }
  return { byIndex, byMigDevice, unknown };
}
