/**
 * What each role's ServiceAccount may do, as `kubectl auth can-i --list` shows it, beyond what every
 * authenticated user may: in fakegpu's namespace, and in any other namespace (the cluster-wide part). The
 * e2e test compares the installed chart against this, so no role silently gains a right. README.md
 * "Install in a cluster (Helm)" documents the same table.
 *
 * Each line is `<resource>[.<group>] [<resource names>]: <verbs, sorted>`.
 *
 * @module
 */

/** Permissions of one role. */
export interface RolePermissions {
  /** In the release namespace. */
  inNamespace: string[];
  /** In any other namespace (cluster-scoped resources and cluster-wide rules). */
  elsewhere: string[];
}

/** The expected permissions, by role. */
export const EXPECTED_PERMISSIONS: Record<string, RolePermissions> = {
  "status-updater": {
    inNamespace: [
      "configmaps: create, delete, list, patch, watch",
      "events: create",
      "leases.coordination.k8s.io [fakegpu-status-updater]: get, update",
      "nodes: list, patch, watch",
      "pods: list, patch, watch",
      "resourceclaims.resource.k8s.io: list, watch",
    ],
    elsewhere: [
      "events: create",
      "nodes: list, patch, watch",
      "pods: list, patch, watch",
      "resourceclaims.resource.k8s.io: list, watch",
    ],
  },
  "device-plugin": {
    inNamespace: [
      "configmaps: list, watch",
      "events: create",
      "leases.coordination.k8s.io [fakegpu-device-plugin]: get, update",
      "nodes/status: patch",
      "nodes: get, list, patch, watch",
      "pods: list, patch, watch",
    ],
    // HAMi pools: node annotations (register, handshake, lock release) and the pods' bind annotations.
    elsewhere: [
      "events: create",
      "nodes/status: patch",
      "nodes: get, list, patch, watch",
      "pods: list, patch, watch",
    ],
  },
  "dcgm-exporter": {
    inNamespace: ["configmaps: list, watch"],
    elsewhere: [],
  },
  "dra-plugin": {
    inNamespace: [
      "configmaps: list, watch",
      "deviceclasses.resource.k8s.io: create, get",
      "events: create",
      "leases.coordination.k8s.io [fakegpu-dra-plugin]: get, update",
      "nodes: list, watch",
      "resourceslices.resource.k8s.io: create, delete, list, update, watch",
    ],
    elsewhere: [
      "deviceclasses.resource.k8s.io: create, get",
      "events: create",
      "nodes: list, watch",
      "resourceslices.resource.k8s.io: create, delete, list, update, watch",
    ],
  },
};

/**
 * The resource rows of `kubectl auth can-i --list` output as permission lines (see the module doc),
 * sorted; rows for non-resource URLs are left out.
 */
export function parseCanIList(text: string): string[] {
  const lines: string[] = [];
  for (const row of text.split("\n").slice(1)) {
    const match = /^(\S+)\s+\[[^\]]*\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$/.exec(row);
    if (!match) continue;
    const [, resource, names, verbs] = match;
    const sorted = verbs.split(/\s+/).filter(Boolean).sort().join(", ");
    lines.push(`${resource}${names.trim() ? ` [${names.trim()}]` : ""}: ${sorted}`);
  }
  return lines.sort();
}
