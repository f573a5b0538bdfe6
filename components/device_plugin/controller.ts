/**
 * The device plugin for KWOK nodes (node scope `kwok`): one central process that writes each KWOK pool
 * node's `status.capacity` and `status.allocatable` with server-side apply, from the node's state.
 *
 * @module
 */
import { isKwokNode, nodeWritable, watchFleet } from "../core/fleet_watch.ts";
import { log } from "../core/log.ts";
import { ownedMapKeys } from "../core/managed_fields.ts";
import { WorkQueue } from "../core/work_queue.ts";
import type { KubeClient, KubeObject } from "../core/kube/client.ts";
import { RecentWrites } from "../core/recent_writes.ts";
import { type Advertisement, advertisementNeedsWrite, desiredResources } from "./reconcile.ts";
import { hamiSharingOf, startHamiBinder } from "./hami_binder.ts";

/** Field manager of the node status writes. */
export const DEVICE_PLUGIN_MANAGER = "fakegpu-device-plugin";

/** Options of {@link runKwokDevicePlugin}. */
export interface KwokDevicePluginOptions {
  /** fakegpu's namespace. */
  namespace: string;
  /** Topology ConfigMap name. */
  topologyConfigMap: string;
  /** Topology file used instead of the ConfigMap. */
  topologyFile?: string;
  /** Nodes written at the same time. */
  workers: number;
  /** Stops the controller. */
  signal: AbortSignal;
}

/** Advertises GPUs on every KWOK pool node until the signal aborts. */
export async function runKwokDevicePlugin(
  client: KubeClient,
  options: KwokDevicePluginOptions,
): Promise<void> {
  const { signal } = options;
  const writes = new RecentWrites<Advertisement>();
  const queue = new WorkQueue({ concurrency: options.workers, signal, handle: reconcileNode });
  const fleet = watchFleet(client, {
    namespace: options.namespace,
    topologyConfigMap: options.topologyConfigMap,
    topologyFile: options.topologyFile,
    signal,
    component: "device-plugin",
    onNodeChanged: (name) => queue.add(name),
  });
  const hami = startHamiBinder(client, { fleet, workers: options.workers, signal });
  await fleet.ready;
  log.info("device-plugin synced", { nodes: fleet.nodeNames().length });
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

  async function reconcileNode(name: string): Promise<void> {
    const node = fleet.node(name);
    if (!node) return;
    const poolKey = fleet.topology().nodePoolLabelKey;
    const state = fleet.state(name)?.state;
    const sharing = hamiSharingOf(node, fleet.topology());
    const desired = desiredResources({
      kwok: isKwokNode(node),
      inPool: node.metadata?.labels?.[poolKey] !== undefined,
      state,
      hamiSplitCount: sharing?.splitCount,
    });
    if (!desired || !nodeWritable(node)) return;
    if (state && isKwokNode(node)) await hami.syncNode(node, state, sharing);
    const pending = writes.pending(name, node.metadata?.resourceVersion);
    const needsWrite = pending
      ? advertisementNeedsWrite(pending, new Set(Object.keys(pending.capacity)), desired)
      : advertisementNeedsWrite(
        node.status ?? {},
        ownedMapKeys(node, DEVICE_PLUGIN_MANAGER, ["status", "capacity"], { subresource: "status" }),
        desired,
      );
    if (!needsWrite) return;
    const written = await client.apply<KubeObject>(
      `/api/v1/nodes/${name}/status`,
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name },
        status: desired,
      },
      { fieldManager: DEVICE_PLUGIN_MANAGER, force: true, metadataOnly: true },
    );
    writes.record(name, desired, written?.metadata?.resourceVersion);
    log.info("node resources advertised", { node: name, resources: desired });
  }
}
