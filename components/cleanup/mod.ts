/**
 * Role `cleanup`: removes everything fakegpu wrote into a cluster, for `helm uninstall` (the chart runs it
 * as a pre-delete hook Job). It first takes the Leases of the leader-elected roles, so that the running
 * roles stop writing, waits out their renew deadline, and then removes status-updater's node labels, the
 * KWOK device plugin's node resources, the node state ConfigMaps and dra-plugin's ResourceSlices. Nodes
 * keep everything else, including the pool label the user set.
 *
 * @module
 */
import { z } from "zod";
import type { FlagSpec } from "../core/flags.ts";
import { log } from "../core/log.ts";
import { CLIENT_FLAGS, clientFlagsSchema, runRole } from "../core/role_runtime.ts";
import type { KubeClient, KubeObject } from "../core/kube/client.ts";
import type { Lease } from "../core/kube/lease.ts";
import { sleep } from "../core/kube/backoff.ts";
import { STATE_SELECTOR } from "../core/node_state.ts";
import { SCOPE_LABEL } from "../dra_plugin/reconcile.ts";
import { cleanupLeaseSpec, leaderMayBeActive, nodeWritesToUndo } from "./reconcile.ts";

/** The Leases of the roles that write, by role. */
export const WRITER_LEASES = ["fakegpu-status-updater", "fakegpu-device-plugin", "fakegpu-dra-plugin"];

/** Flags of `fakegpu cleanup`. */
export const CLEANUP_FLAGS: FlagSpec[] = [
  ...CLIENT_FLAGS,
  {
    name: "leader-grace",
    description: "seconds to wait for leaders whose Lease was taken to stop (their renew deadline + retry)",
    defaultText: "13",
  },
];

const schema = clientFlagsSchema.extend({
  leaderGrace: z.coerce.number().min(0).max(300).default(13),
});

/** Takes a role's Lease; returns whether a leader may still be active under the record it replaced. */
async function takeLease(client: KubeClient, namespace: string, name: string): Promise<boolean> {
  const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`;
  for (let attempt = 0;; attempt++) {
    const now = new Date();
    const current = await client.get<Lease>(path);
    if (!current) return false;
    try {
      await client.replace(path, { ...current, spec: cleanupLeaseSpec(current.spec, now) });
      return leaderMayBeActive(current.spec, now);
    } catch (err) {
      if (attempt >= 5) throw err;
      log.info("lease changed while taking it; retrying", { lease: name, error: err });
    }
  }
}

/** Deletes every object a list call returns, one by one. */
async function deleteAll(client: KubeClient, collection: string, labelSelector: string): Promise<number> {
  const { items } = await client.list<KubeObject>(collection, { labelSelector });
  for (const item of items) await client.delete(`${collection}/${item.metadata?.name}`);
  return items.length;
}

/** Removes what fakegpu wrote; see the module documentation. */
export async function cleanUp(
  client: KubeClient,
  namespace: string,
  leaderGraceSeconds: number,
): Promise<void> {
  let leaders = false;
  for (const lease of WRITER_LEASES) leaders = await takeLease(client, namespace, lease) || leaders;
  if (leaders) {
    log.info("waiting for the roles to stop leading", { seconds: leaderGraceSeconds });
    await sleep(leaderGraceSeconds * 1000);
  }
  const { items: nodes } = await client.list<KubeObject>("/api/v1/nodes");
  let cleaned = 0;
  for (const node of nodes) {
    const name = node.metadata?.name;
    const writes = nodeWritesToUndo(node);
    for (const write of writes) {
      const suffix = write.subresource ? `/${write.subresource}` : "";
      const body = write.subresource
        ? { apiVersion: "v1", kind: "Node", metadata: { name }, status: {} }
        : { apiVersion: "v1", kind: "Node", metadata: { name } };
      await client.apply(`/api/v1/nodes/${name}${suffix}`, body, {
        fieldManager: write.manager,
        force: true,
      });
    }
    if (writes.length) cleaned++;
  }
  const states = await deleteAll(client, `/api/v1/namespaces/${namespace}/configmaps`, STATE_SELECTOR);
  const slices = await deleteAll(client, "/apis/resource.k8s.io/v1/resourceslices", SCOPE_LABEL)
    .catch((err) => {
      log.warn("ResourceSlices not cleaned (no DRA API or no access)", { error: err });
      return 0;
    });
  log.warn("fakegpu removed from the cluster", {
    nodes: cleaned,
    nodeStates: states,
    resourceSlices: slices,
  });
}

/** Runs the cleanup once with the given command-line arguments. */
export async function main(args: string[], signal?: AbortSignal): Promise<void> {
  await runRole({
    role: "cleanup",
    args,
    flags: CLEANUP_FLAGS,
    schema,
    signal,
    run: ({ flags, client }) => cleanUp(client, flags.namespace, flags.leaderGrace),
  });
}
