/**
 * dra-plugin's I/O: watches the fleet and its own ResourceSlices and, for each node that changed, creates,
 * updates or deletes the node's slice as {@link sliceAction} decides. Both node scopes run this one path;
 * they differ only in which nodes they serve and which slices they read.
 *
 * @module
 */
import { isKwokNode, watchFleet } from "../core/fleet_watch.ts";
import { log } from "../core/log.ts";
import { WorkQueue } from "../core/work_queue.ts";
import { KubeApiError, type KubeClient } from "../core/kube/client.ts";
import { emitEvent } from "../core/kube/events.ts";
import { startReflector } from "../core/kube/reflector.ts";
import { DRA_DRIVER } from "./devices.ts";
import { ensureDeviceClasses } from "./device_classes.ts";
import {
  type NodeScope,
  type ResourceSlice,
  SCOPE_LABEL,
  type SliceAction,
  sliceAction,
  sliceName,
} from "./reconcile.ts";

const SLICES_PATH = "/apis/resource.k8s.io/v1/resourceslices";

/** Options of {@link runDraPlugin}. */
export interface DraPluginOptions {
  /** fakegpu's namespace. */
  namespace: string;
  /** Topology ConfigMap name. */
  topologyConfigMap: string;
  /** Topology file used instead of the ConfigMap. */
  topologyFile?: string;
  /** `kwok`: every KWOK pool node; `this-node`: only {@link DraPluginOptions.nodeName}. */
  scope: NodeScope;
  /** The node served in scope `this-node`. */
  nodeName?: string;
  /** Nodes written at the same time. */
  workers: number;
  /** Stops the controller. */
  signal: AbortSignal;
}

/** Publishes the ResourceSlices of the nodes in scope until the signal aborts. */
export async function runDraPlugin(client: KubeClient, options: DraPluginOptions): Promise<void> {
  const { signal, scope, nodeName } = options;
  const inScope = (name: string) => scope === "kwok" || name === nodeName;
  const reported = new Set<string>();
  let ready = false;
  const queue = new WorkQueue({ concurrency: options.workers, signal, handle: reconcileNode });
  const enqueue = (name: string | undefined) => {
    if (ready && name && inScope(name)) queue.add(name);
  };

  await ensureDeviceClasses(client);
  const slices = startReflector<ResourceSlice>(client, {
    name: "resourceslices",
    path: SLICES_PATH,
    labelSelector: `${SCOPE_LABEL}=${scope}`,
    fieldSelector: `spec.driver=${DRA_DRIVER}` + (scope === "this-node" ? `,spec.nodeName=${nodeName}` : ""),
    signal,
    onChange: (change) => {
      if (change.type !== "synced") enqueue(change.object.spec?.pool?.name);
    },
  });
  const fleet = watchFleet(client, {
    namespace: options.namespace,
    topologyConfigMap: options.topologyConfigMap,
    topologyFile: options.topologyFile,
    signal,
    component: "dra-plugin",
    onNodeChanged: enqueue,
    node: scope === "this-node" ? nodeName : undefined,
  });
  await Promise.all([fleet.ready, slices.synced]);
  ready = true;
  for (const name of fleet.nodeNames()) enqueue(name);
  for (const slice of slices.store.values()) enqueue(slice.spec.pool.name);
  log.info("dra-plugin synced", { nodes: fleet.nodeNames().length, slices: slices.store.size });
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

  async function reconcileNode(name: string): Promise<void> {
    const node = fleet.node(name);
    let action: SliceAction;
    try {
      action = sliceAction({
        node: name,
        scope,
        nodeUid: node?.metadata?.uid,
        served: node !== undefined && (scope === "this-node" || isKwokNode(node)),
        inPool: node?.metadata?.labels?.[fleet.topology().nodePoolLabelKey] !== undefined,
        state: fleet.state(name)?.state,
        current: slices.store.get(sliceName(name)),
      });
    } catch (error) {
      await reportOnce(
        name,
        node?.metadata?.uid,
        `Cannot publish the node's GPUs: ${(error as Error).message}`,
      );
      return;
    }
    if (action.type === "none") return;
    try {
      if (action.type === "create") await client.create(SLICES_PATH, action.slice);
      else if (action.type === "update") {
        await client.replace(`${SLICES_PATH}/${action.slice.metadata.name}`, action.slice);
      } else if (!await client.delete(`${SLICES_PATH}/${action.name}`)) return; // already gone
    } catch (error) {
      // The slice changed since it was read: its watch event queues the node again.
      if (error instanceof KubeApiError && error.status === 409) return;
      throw error;
    }
    log.info(`resource slice ${action.type}d`, {
      node: name,
      generation: action.type === "delete" ? undefined : action.slice.spec.pool.generation,
    });
  }

  async function reportOnce(node: string, uid: string | undefined, message: string): Promise<void> {
    const key = `${uid}/${message}`;
    if (reported.has(key)) return;
    if (reported.size > 10_000) reported.clear();
    reported.add(key);
    log.warn(message, { node });
    await emitEvent(client, {
      namespace: "default",
      involved: { kind: "Node", apiVersion: "v1", name: node, uid },
      reason: "InvalidGpuState",
      message,
      type: "Warning",
      component: "fakegpu-dra-plugin",
    });
  }
}
