/**
 * status-updater's I/O: watches the fleet, the pods bound to it and the ResourceClaims allocated from its
 * GPUs (when the cluster serves `resource.k8s.io/v1`), and for each node that changed
 * writes the node's state ConfigMap and GPU labels when they differ from what
 * {@link desiredNodeState} and {@link gpuNodeLabels} decide.
 *
 * @module
 */
import { isDeepStrictEqual } from "node:util";
import {
  KUBELET_GPUS_ANNOTATION,
  kubeletAllocatedGpus,
  plainUses,
  podGpuDemand,
  type PodLike,
  sharedGpus,
  slimPod,
} from "../core/allocation.ts";
import { gpuDevices } from "../core/identity.ts";
import { isKwokNode, type NodeObject, nodeWritable, watchFleet } from "../core/fleet_watch.ts";
import { gpuNodeLabels } from "../core/gfd_labels.ts";
import { log } from "../core/log.ts";
import { ownedMapKeys } from "../core/managed_fields.ts";
import {
  decodeNodeState,
  encodeNodeState,
  STATE_DATA_KEY,
  stateConfigMap,
  stateConfigMapName,
} from "../core/node_state.ts";
import { RecentWrites } from "../core/recent_writes.ts";
import { WorkQueue } from "../core/work_queue.ts";
import { KubeApiError, type KubeClient, type KubeObject } from "../core/kube/client.ts";
import { emitEvent } from "../core/kube/events.ts";
import { sameApartFromVersion, startReflector } from "../core/kube/reflector.ts";
import { GPU_FAULTS_ANNOTATION, parseGpuFaults } from "../core/gpu_faults.ts";
import { claimedGpus, type ClaimLike, claimNodes, claimReservedFor, slimClaim } from "./dra_claims.ts";
import {
  desiredNodeState,
  labelsToApply,
  MEMORY_ANNOTATION,
  parseMemoryUse,
  parseUtilization,
  UTILIZATION_ANNOTATION,
} from "./reconcile.ts";
import { migDraDeviceName } from "../core/mig_layout.ts";
import { decideMigConfig, MIG_CONFIG_LABEL, MIG_CONFIG_STATE_LABEL } from "./mig_config.ts";
import { asksForMigDevices } from "./mig_devices.ts";
import { HAMI_ALLOCATED_ANNOTATION } from "../core/hami.ts";
import { hamiGpuUses } from "./hami_pods.ts";
import {
  fractionalGpus,
  inGpuGroup,
  KAI_POD_KEYS,
  reservationsToAnnotate,
  RESERVED_GPU_ANNOTATION,
} from "./kai_fractions.ts";

/** Field manager of every write status-updater makes. */
export const STATUS_UPDATER_MANAGER = "fakegpu";

/** Options of {@link runStatusUpdaterController}. */
export interface StatusUpdaterOptions {
  /** fakegpu's namespace. */
  namespace: string;
  /** Topology ConfigMap name. */
  topologyConfigMap: string;
  /** Topology file used instead of the ConfigMap. */
  topologyFile?: string;
  /** Nodes reconciled at the same time. */
  workers: number;
  /** Namespace of KAI's reservation pods (fractional GPUs). */
  reservationNamespace: string;
  /** Stops the controller. */
  signal: AbortSignal;
}

type Pod = PodLike & KubeObject;

/** Runs status-updater until its signal aborts. */
export async function runStatusUpdaterController(
  client: KubeClient,
  options: StatusUpdaterOptions,
): Promise<void> {
  const { namespace, signal } = options;
  const podsByNode = new Map<string, Map<string, Pod>>();
  const claimsByNode = new Map<string, Map<string, ClaimLike>>();
  const reported = new Set<string>();
  const stateWrites = new RecentWrites<string>();
  const labelWrites = new RecentWrites<Record<string, string>>();
  let fleetReady = false;

  const queue = new WorkQueue({ concurrency: options.workers, signal, handle: reconcileNode });
  const fleet = watchFleet(client, {
    namespace,
    topologyConfigMap: options.topologyConfigMap,
    topologyFile: options.topologyFile,
    signal,
    component: "status-updater",
    readsNodeStatus: false,
    // Nothing is decided before the pods are listed too: a node reconciled without its pods would free
    // their GPUs. Once both are synced every node is queued below.
    onNodeChanged: (name) => {
      if (fleetReady) queue.add(name);
    },
  });
  const pods = startReflector<Pod>(client, {
    name: "pods",
    path: "/api/v1/pods",
    fieldSelector: "spec.nodeName!=",
    signal,
    transform: (pod) =>
      slimPod(
        pod,
        [
          UTILIZATION_ANNOTATION,
          MEMORY_ANNOTATION,
          KUBELET_GPUS_ANNOTATION,
          HAMI_ALLOCATED_ANNOTATION,
          ...KAI_POD_KEYS.annotations,
        ],
        KAI_POD_KEYS.labels,
      ),
    onChange: (change) => {
      if (change.type === "synced") return;
      const pod = change.object;
      const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
      const node = pod.spec?.nodeName;
      if (!node) return;
      const onNode = podsByNode.get(node) ?? new Map<string, Pod>();
      if (change.type === "delete") onNode.delete(key);
      else onNode.set(key, pod);
      podsByNode.set(node, onNode);
      // An update of what slimPod() drops (conditions, IPs) changes no GPU.
      if (change.type === "upsert" && change.previous && sameApartFromVersion(change.previous, pod)) return;
      const asksForGpus = (p: Pod) => podGpuDemand(p).total > 0 || asksForMigDevices(p) || inGpuGroup(p);
      const mattered = change.type === "upsert" && change.previous && asksForGpus(change.previous);
      const claimed = [...(claimsByNode.get(node)?.values() ?? [])].some((c) =>
        claimReservedFor(c, pod.metadata?.uid)
      );
      if (fleetReady && (asksForGpus(pod) || mattered || claimed)) queue.add(node);
    },
  });
  await Promise.all([fleet.ready, pods.synced, watchClaims()]);
  fleetReady = true;
  for (const name of fleet.nodeNames()) queue.add(name);
  log.info("status-updater synced", { nodes: fleet.nodeNames().length });
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

  /**
   * Watches ResourceClaims when the role may list them (the cluster serves `resource.k8s.io/v1` and RBAC
   * allows it); resolves once they are listed. Without them GPUs allocated through DRA get no holders.
   */
  async function watchClaims(): Promise<void> {
    try {
      await client.list("/apis/resource.k8s.io/v1/resourceclaims", { signal });
    } catch (error) {
      // Any other error is transient: the reflector below retries until it can list.
      if (error instanceof KubeApiError && (error.status === 404 || error.status === 403)) {
        log.warn("cannot list ResourceClaims; GPUs allocated through DRA are not attributed to pods", {
          error,
        });
        return;
      }
    }
    const claims = startReflector<ClaimLike>(client, {
      name: "resourceclaims",
      path: "/apis/resource.k8s.io/v1/resourceclaims",
      signal,
      transform: slimClaim,
      onChange: (change) => {
        if (change.type === "synced") return;
        const before = change.type === "upsert" ? claimNodes(change.previous) : [];
        for (const node of before) claimsByNode.get(node)?.delete(change.key);
        const now = claimNodes(change.object);
        for (const node of now) {
          if (change.type === "delete") claimsByNode.get(node)?.delete(change.key);
          else claimsByNode.set(node, (claimsByNode.get(node) ?? new Map()).set(change.key, change.object));
        }
        if (fleetReady) { for (const node of new Set([...before, ...now])) queue.add(node); }
      },
    });
    await claims.synced;
  }

  async function reconcileNode(name: string): Promise<void> {
    const topology = fleet.topology();
    const node = fleet.node(name);
    const entry = fleet.state(name);
    const poolName = node?.metadata?.labels?.[topology.nodePoolLabelKey];
    const cmPath = `/api/v1/namespaces/${namespace}/configmaps/${stateConfigMapName(name)}`;
    if (!node || !poolName) {
      stateWrites.forget(name);
      if (entry) {
        await client.delete(cmPath);
        log.info("node left the GPU fleet; state removed", { node: name });
      }
      if (node) await applyLabels(name, node, {});
      return;
    }
    const pool = topology.pools[poolName];
    if (!pool) {
      await reportOnce(
        node,
        "UnknownGpuPool",
        `Node pool "${poolName}" is not in the topology; GPUs left as they are`,
      );
      return;
    }
    const kwok = isKwokNode(node);
    const faults = parseGpuFaults(node.metadata?.annotations?.[GPU_FAULTS_ANNOTATION], pool.gpuCount);
    if (faults.error) void reportOnce(node, "InvalidGpuFaults", `${faults.error}; no faults simulated`);
    const podsOnNode = [...(podsByNode.get(name)?.values() ?? [])];
    // On a real node the kubelet chose each pod's GPUs; its device plugin records them on the pod.
    const allocated = kwok
      ? []
      : kubeletAllocatedGpus(podsOnNode, gpuDevices(name, pool.model, pool.gpuCount));
    // Time-slicing: pods share GPUs (on a real node until its device plugin records the kubelet's choice).
    const shared = pool.replicas === undefined ? [] : sharedGpus(
      podsOnNode.filter((p) => kwok || !p.metadata?.annotations?.[KUBELET_GPUS_ANNOTATION]),
      entry?.state?.devices ?? [],
      pool.gpuCount,
      pool.replicas,
    );
    // KAI fractions: reservation pods hold the GPU their annotation names, for their group's fraction pods.
    const fractions = fractionalGpus(
      podsOnNode,
      gpuDevices(name, pool.model, pool.gpuCount),
      pool.model.memoryMiB,
      options.reservationNamespace,
    );
    for (const { pod, message } of fractions.problems) {
      void reportOnce(pod as Pod, "InvalidGpuFraction", `${message}; ignored`);
    }
    // HAMi: its scheduler chose each pod's GPUs and memory; a pod it gave none usable gets no GPU from fakegpu.
    const hami = pool.sharing && kwok
      ? hamiGpuUses(podsOnNode, gpuDevices(name, pool.model, pool.gpuCount))
      : undefined;
    for (const { pod, error } of hami?.problems ?? []) {
      void reportOnce(pod as Pod, "InvalidHamiAllocation", `${error}; the pod gets no GPU`);
    }
    const refused = new Set(hami?.problems.map(({ pod }) => pod.metadata?.uid));
    const mig = decideMigConfig(
      pool,
      topology.migStrategy,
      node.metadata?.labels?.[MIG_CONFIG_LABEL],
      entry?.state?.devices ?? [],
      podsOnNode,
    );
    const migNames = new Set(
      (mig.layout ?? []).flatMap((instances, minor) =>
        instances.map((i) => migDraDeviceName(pool.model, minor, i))
      ),
    );
    const claimed = claimedGpus(claimsByNode.get(name)?.values() ?? [], name, pool.gpuCount, migNames);
    for (const { claim, device } of claimed.unknown) {
      void reportOnce(
        claim,
        "UnknownGpuDevice",
        `Claim allocates device "${device}" that ${name} does not have; ignored`,
      );
    }
    if (mig.state === "failed") {
      void reportOnce(node, "MigConfigFailed", `${mig.reason}; MIG layout unchanged`);
    }
    if (mig.state === "pending") void reportOnce(node, "MigConfigPending", `${mig.reason}; MIG layout waits`);
    const decision = desiredNodeState({
      node: name,
      poolName,
      pool,
      migStrategy: topology.migStrategy,
      kwok,
      previous: entry?.state,
      pods: podsOnNode.filter((p) =>
        !fractions.reservations.has(p.metadata?.uid ?? "") && !refused.has(p.metadata?.uid)
      ),
      utilizationOf: (pod) => {
        const parsed = parseUtilization(pod);
        if (parsed.error) {
          void reportOnce(pod as Pod, "InvalidGpuUtilization", `${parsed.error}; using the default`);
        }
        return parsed.range;
      },
      memoryOf: (pod, model) => {
        const parsed = parseMemoryUse(pod, model);
        if (parsed.error) {
          void reportOnce(pod as Pod, "InvalidGpuMemory", `${parsed.error}; using the default`);
        }
        return parsed.mib;
      },
      faults: faults.faults,
      claimed: new Map([
        ...plainUses(new Map([...claimed.byIndex, ...shared, ...allocated])),
        ...fractions.reserved,
        ...hami?.uses ?? [],
      ]),
      claimedMig: claimed.byMigDevice,
      migLayout: mig.layout,
    });
    const text = encodeNodeState(decision.state);
    const pending = stateWrites.pending(name, entry?.configMap.metadata?.resourceVersion);
    // Same text: nothing to write (the common case, no decoding); else compare the values, so a state written
    // with other formatting (an older version) is not rewritten for its looks alone.
    const unchanged = pending === undefined
      ? text === entry?.configMap.data?.[STATE_DATA_KEY] ||
        (!!entry?.state && isDeepStrictEqual(entry.state, decodeNodeState(text)))
      : text === pending;
    if (!unchanged) {
      const written = await client.apply<KubeObject>(
        cmPath,
        stateConfigMap(namespace, decision.state, text),
        { fieldManager: STATUS_UPDATER_MANAGER, force: true, metadataOnly: true },
      );
      stateWrites.record(name, text, written?.metadata?.resourceVersion);
      log.info("node state written", {
        node: name,
        pool: poolName,
        gpus: decision.state.devices.length,
        held: decision.state.devices.filter((d) => d.holders).length,
      });
    }
    for (
      const { pod, uuid } of reservationsToAnnotate(
        podsOnNode,
        decision.state.devices,
        options.reservationNamespace,
      )
    ) {
      try {
        await client.mergePatch(`/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}`, {
          metadata: { annotations: { [RESERVED_GPU_ANNOTATION]: uuid } },
        });
      } catch (error) {
        // The pod is gone: its GPU is freed when its deletion is seen.
        if (error instanceof KubeApiError && error.status === 404) continue;
        throw error;
      }
      log.info("GPU reserved for a KAI fraction group", {
        pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`,
        uuid,
      });
    }
    for (const p of decision.unsatisfied) {
      const pod = podsByNode.get(name)?.get(p.pod);
      if (pod) {
        await reportOnce(pod, "GpuOvercommitted", `Pod needs ${p.needed} GPUs on ${name}; fewer are free`);
      }
    }
    await applyLabels(name, node, {
      ...gpuNodeLabels({ pool, migStrategy: topology.migStrategy, kwok, migLayout: mig.layout }),
      ...(mig.state ? { [MIG_CONFIG_STATE_LABEL]: mig.state } : {}),
    });
  }

  async function applyLabels(name: string, node: NodeObject, desired: Record<string, string>): Promise<void> {
    if (!nodeWritable(node)) return;
    const pending = labelWrites.pending(name, node.metadata?.resourceVersion);
    const labels = pending ? labelsToApply(pending, new Set(Object.keys(pending)), desired) : labelsToApply(
      node.metadata?.labels ?? {},
      ownedMapKeys(node, STATUS_UPDATER_MANAGER, ["metadata", "labels"]),
      desired,
    );
    if (!labels) return;
    const written = await client.apply<KubeObject>(`/api/v1/nodes/${name}`, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels },
    }, { fieldManager: STATUS_UPDATER_MANAGER, force: true, metadataOnly: true });
    labelWrites.record(name, labels, written?.metadata?.resourceVersion);
    log.info("node labels applied", { node: name, labels: Object.keys(labels).length });
  }

  async function reportOnce(obj: KubeObject, reason: string, message: string): Promise<void> {
    const key = `${obj.metadata?.uid}/${reason}/${message}`;
    if (reported.has(key)) return;
    if (reported.size > 10_000) reported.clear();
    reported.add(key);
    log.warn(message, { reason, object: `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name}` });
    const kind = obj.kind ?? (obj.metadata?.namespace ? "Pod" : "Node");
    await emitEvent(client, {
      namespace: obj.metadata?.namespace ?? "default",
      involved: {
        kind,
        apiVersion: obj.apiVersion ?? "v1",
        name: obj.metadata?.name ?? "",
        namespace: obj.metadata?.namespace,
        uid: obj.metadata?.uid,
      },
      reason,
      message,
      type: "Warning",
      component: "fakegpu-status-updater",
    });
  }
}
