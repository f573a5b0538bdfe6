/**
 * HAMi's device plugin on KWOK nodes, as device-plugin (node scope `kwok`) plays it for pools with
 * `sharing: {hami: …}`: keeps each node's `hami.io/node-nvidia-register` current and answers its handshake,
 * and completes HAMi's bind protocol from a pod watch (started with the first HAMi node): a pod with
 * `hami.io/bind-phase=allocating` bound or being bound to a HAMi KWOK node gets its devices consumed,
 * `bind-phase=success` (or `failed` with a Warning Event when an annotation is malformed), and the node's lock
 * released when it names the pod. The decisions are {@link hamiNodeAnnotations} and {@link bindCompletion}.
 *
 * @module
 */
import { slimPod } from "../core/allocation.ts";
import {
  bindCompletion,
  formatRegister,
  HAMI_ALLOCATED_ANNOTATION,
  HAMI_BIND_PHASE_ANNOTATION,
  HAMI_LOCK_ANNOTATION,
  HAMI_NODE_ANNOTATION,
  HAMI_TO_ALLOCATE_ANNOTATION,
  hamiNodeAnnotations,
  registeredGpus,
} from "../core/hami.ts";
import { log } from "../core/log.ts";
import type { ClusterTopology, HamiSharing } from "../core/model.ts";
import type { NodeGpuState } from "../core/node_state.ts";
import { type FleetWatch, isKwokNode, type NodeObject } from "../core/fleet_watch.ts";
import { RecentWrites } from "../core/recent_writes.ts";
import { WorkQueue } from "../core/work_queue.ts";
import { KubeApiError, type KubeClient, type KubeObject } from "../core/kube/client.ts";
import { emitEvent } from "../core/kube/events.ts";
import { type Reflector, startReflector } from "../core/kube/reflector.ts";

/** Pod annotations the binder keeps of each pod. */
const POD_ANNOTATIONS = [
  HAMI_NODE_ANNOTATION,
  HAMI_BIND_PHASE_ANNOTATION,
  HAMI_TO_ALLOCATE_ANNOTATION,
  HAMI_ALLOCATED_ANNOTATION,
];

/** Field manager of the binder's writes (node annotations, pod annotations). */
const HAMI_MANAGER = "fakegpu-device-plugin";

/** Attempts at releasing a node lock that keeps changing under the write. */
const LOCK_ATTEMPTS = 5;

/** The HAMi settings of a KWOK node's pool; undefined for any other node. */
export function hamiSharingOf(
  node: NodeObject | undefined,
  topology: ClusterTopology,
): HamiSharing | undefined {
  if (!node || !isKwokNode(node)) return undefined;
  return topology.pools[node.metadata?.labels?.[topology.nodePoolLabelKey] ?? ""]?.sharing?.hami;
}

/** Options of {@link startHamiBinder}. */
export interface HamiBinderOptions {
  /** The fleet (nodes, their states, the topology), ready before the first node is synced. */
  fleet: FleetWatch;
  /** Pods completed at the same time. */
  workers: number;
  /** Stops the pod watch and the queue. */
  signal: AbortSignal;
}

/** The running binder. */
export interface HamiBinder {
  /**
   * Brings a KWOK node's HAMi annotations up to date: register and handshake for a HAMi node (`sharing`
   * given), a left-over register removed otherwise. Starts the pod watch with the first HAMi node.
   */
  syncNode(node: NodeObject, state: NodeGpuState, sharing: HamiSharing | undefined): Promise<void>;
}

type Pod = KubeObject & { spec?: { nodeName?: string } };

/** Creates the binder; its pod watch starts with the first HAMi node it syncs. */
export function startHamiBinder(client: KubeClient, options: HamiBinderOptions): HamiBinder {
  const { signal } = options;
  const writes = new RecentWrites<Record<string, string | null>>();
  const reported = new Set<string>();
  const queue = new WorkQueue({ concurrency: options.workers, signal, handle: completeBind });
  let pods: Reflector<Pod> | undefined;

  function watchPods(): Reflector<Pod> {
    log.info("HAMi pool found; watching pods for HAMi binds");
    return startReflector<Pod>(client, {
      name: "hami-pods",
      path: "/api/v1/pods",
      signal,
      transform: (pod) => slimPod(pod, POD_ANNOTATIONS),
      onChange: (change) => {
        if (change.type !== "upsert") return;
        if (change.object.metadata?.annotations?.[HAMI_BIND_PHASE_ANNOTATION] === "allocating") {
          queue.add(change.key);
        }
      },
    });
  }

  async function syncNode(node: NodeObject, state: NodeGpuState, sharing: HamiSharing | undefined) {
    const name = node.metadata!.name!;
    if (sharing) pods ??= watchPods();
    const register = sharing &&
      formatRegister(registeredGpus(state.devices, state.gpu, sharing), sharing.registerFormat);
    const seen = { ...node.metadata?.annotations, ...writes.pending(name, node.metadata?.resourceVersion) };
    const patch = hamiNodeAnnotations(
      Object.fromEntries(Object.entries(seen).filter((e): e is [string, string] => e[1] !== null)),
      register,
      new Date(),
    );
    if (!patch) return;
    const written = await client.mergePatch<KubeObject>(`/api/v1/nodes/${name}`, {
      metadata: { annotations: patch },
    }, { fieldManager: HAMI_MANAGER });
    writes.record(name, patch, written?.metadata?.resourceVersion);
    log.info("HAMi node annotations written", { node: name, annotations: Object.keys(patch) });
  }

  async function completeBind(key: string): Promise<void> {
    const pod = pods?.store.get(key);
    const meta = pod?.metadata;
    const nodeName = pod?.spec?.nodeName || meta?.annotations?.[HAMI_NODE_ANNOTATION];
    const { fleet } = options;
    if (
      !meta?.name || !meta.namespace || !nodeName || !hamiSharingOf(fleet.node(nodeName), fleet.topology())
    ) return;
    const state = fleet.state(nodeName)?.state;
    const nodePath = `/api/v1/nodes/${nodeName}`;
    for (let attempt = 1;; attempt++) {
      const node = await client.get<KubeObject>(nodePath, { signal });
      const decision = bindCompletion({
        namespace: meta.namespace,
        pod: meta.name,
        annotations: meta.annotations,
        nodeLock: node?.metadata?.annotations?.[HAMI_LOCK_ANNOTATION],
        nodeGpus: state && new Set(state.devices.map((d) => d.uuid)),
      });
      if (!decision) return;
      if (decision.releaseLock) {
        try {
          await client.mergePatch(nodePath, {
            metadata: {
              resourceVersion: node!.metadata!.resourceVersion,
              annotations: { [HAMI_LOCK_ANNOTATION]: null },
            },
          }, { fieldManager: HAMI_MANAGER, signal });
        } catch (error) {
          if (error instanceof KubeApiError && error.status === 409 && attempt < LOCK_ATTEMPTS) continue;
          throw error;
        }
      }
      try {
        await client.mergePatch(`/api/v1/namespaces/${meta.namespace}/pods/${meta.name}`, {
          metadata: { annotations: decision.podAnnotations },
        }, { fieldManager: HAMI_MANAGER, signal });
      } catch (error) {
        if (error instanceof KubeApiError && error.status === 404) return; // the pod is gone
        throw error;
      }
      if (decision.error) {
        const released = decision.releaseLock ? " and the node's lock released" : "";
        await reportFailure(pod!, `${decision.error}; hami.io/bind-phase set to failed${released}`);
      } else {log.info("HAMi bind completed", {
          pod: key,
          node: nodeName,
          lockReleased: decision.releaseLock,
        });}
      return;
    }
  }

  /** Logs a failed bind once and records a Warning Event on the pod. */
  async function reportFailure(pod: Pod, message: string): Promise<void> {
    const id = `${pod.metadata?.uid}/${message}`;
    if (reported.has(id)) return;
    if (reported.size > 10_000) reported.clear();
    reported.add(id);
    log.warn(message, { reason: "HamiBindFailed", pod: `${pod.metadata?.namespace}/${pod.metadata?.name}` });
    await emitEvent(client, {
      namespace: pod.metadata!.namespace!,
      involved: {
        kind: "Pod",
        apiVersion: "v1",
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace,
        uid: pod.metadata?.uid,
      },
      reason: "HamiBindFailed",
      message,
      type: "Warning",
      component: HAMI_MANAGER,
    });
  }

  return { syncNode };
}
