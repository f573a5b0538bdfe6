/**
 * A live view of the simulated fleet shared by the node-facing roles: the topology, every Node and every
 * node-state ConfigMap, kept current by watches. It tells the role which node to look at again whenever
 * something about that node changes, and only after everything has been listed once.
 *
 * @module
 */
import type { ClusterTopology } from "./model.ts";
import {
  type NodeGpuState,
  STATE_NODE_ANNOTATION,
  STATE_SELECTOR,
  stateConfigMapName,
  stateFromConfigMap,
} from "./node_state.ts";
import { log } from "./log.ts";
import { GPU_FAULTS_ANNOTATION } from "./gpu_faults.ts";
import type { KubeClient, KubeObject } from "./kube/client.ts";
import { type Reflector, sameApartFromVersion, startReflector } from "./kube/reflector.ts";
import { watchTopology } from "./topology_source.ts";

/** Annotation marking a KWOK node. */
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";

/** Whether a node is a KWOK node (annotation `kwok.x-k8s.io/node: fake`). */
export function isKwokNode(node: { metadata?: { annotations?: Record<string, string> } }): boolean {
  return node.metadata?.annotations?.[KWOK_NODE_ANNOTATION] === "fake";
}

/** A Node as the roles read it. */
export interface NodeObject extends KubeObject {
  /** Node status (capacity and allocatable are what the device plugin writes). */
  status?: { capacity?: Record<string, string>; allocatable?: Record<string, string>; [k: string]: unknown };
}

/** Field managers whose ownership the roles read from `managedFields` (fakegpu's own). */
const OWN_MANAGER_PREFIX = "fakegpu";

/** Node annotations the roles read. */
const KEPT_ANNOTATIONS = [KWOK_NODE_ANNOTATION, GPU_FAULTS_ANNOTATION];

/**
 * A Node trimmed to what the roles read: name, labels, the KWOK and fault annotations (and `extraAnnotations`),
 * fakegpu's own managed-field entries, capacity and allocatable. Keeps a 1000-node fleet cheap to hold in memory.
 */
export function slimNode(node: NodeObject, extraAnnotations: readonly string[] = []): NodeObject {
  const meta = node.metadata ?? {};
  const kept = [...KEPT_ANNOTATIONS, ...extraAnnotations].filter((k) => meta.annotations?.[k] !== undefined);
  const annotations = Object.fromEntries(kept.map((k) => [k, meta.annotations![k]]));
  const managed = (meta.managedFields ?? []).filter((entry) =>
    String((entry as { manager?: string }).manager ?? "").startsWith(OWN_MANAGER_PREFIX)
  );
  return {
    metadata: {
      name: meta.name,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
      labels: meta.labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
      ...(managed.length ? { managedFields: managed } : {}),
    },
    status: { capacity: node.status?.capacity, allocatable: node.status?.allocatable },
  };
}

/** A ConfigMap as the roles read it. */
export interface ConfigMapObject extends KubeObject {
  /** ConfigMap data. */
  data?: Record<string, string>;
}

/** A node's state ConfigMap and what it holds. */
export interface StateEntry {
  /** The ConfigMap. */
  configMap: ConfigMapObject;
  /** The decoded state; undefined when the ConfigMap's data is invalid. */
  state?: NodeGpuState;
}

/** Options of {@link watchFleet}. */
export interface FleetWatchOptions {
  /** fakegpu's namespace (state ConfigMaps, topology ConfigMap). */
  namespace: string;
  /** Topology ConfigMap name. */
  topologyConfigMap: string;
  /** Topology file used instead of the ConfigMap. */
  topologyFile?: string;
  /** Stops every watch. */
  signal: AbortSignal;
  /** Role name for Events. */
  component: string;
  /** Called with a node name whenever the node, its state or the topology changes (after `ready`). */
  onNodeChanged: (node: string) => void;
  /** Watch only this node and its state (a per-node process); default every node. */
  node?: string;
  /**
   * Whether the role reads node status (capacity, allocatable): a status change then counts. Without it the
   * Nodes are watched as metadata only. @default true
   */
  readsNodeStatus?: boolean;
  /** Node annotations the role reads besides the KWOK and fault ones; a change of them counts. */
  nodeAnnotations?: readonly string[];
}

/** The live fleet view. */
export interface FleetWatch {
  /** Resolves once the topology is known and nodes and states have been listed. */
  readonly ready: Promise<void>;
  /** The current topology (valid after `ready`). */
  topology(): ClusterTopology;
  /** A node by name. */
  node(name: string): NodeObject | undefined;
  /** A node's state ConfigMap, if any. */
  state(name: string): StateEntry | undefined;
  /** Every node that exists or has a state. */
  nodeNames(): string[];
}

/** Starts watching topology, Nodes and state ConfigMaps. */
export function watchFleet(client: KubeClient, options: FleetWatchOptions): FleetWatch {
  const { signal, namespace } = options;
  let topology: ClusterTopology | undefined;
  let isReady = false;
  const states = new Map<string, StateEntry>();
  const changed = (name: string | undefined) => {
    if (isReady && name) options.onNodeChanged(name);
  };

  const nodes = startReflector<NodeObject>(client, {
    name: "nodes",
    path: "/api/v1/nodes",
    fieldSelector: options.node === undefined ? undefined : `metadata.name=${options.node}`,
    // A role that reads no node status watches metadata only: KWOK's status patches then carry no body.
    metadataOnly: !(options.readsNodeStatus ?? true),
    signal,
    transform: (node) => slimNode(node, options.nodeAnnotations),
    onChange: (change) => {
      if (change.type === "synced") return;
      const { previous, object } = change.type === "upsert" ? change : {};
      // KWOK's heartbeats change nothing the roles read: no need to look at the node again.
      const ignore = options.readsNodeStatus ?? true ? [] : ["status"];
      if (previous && object && sameApartFromVersion(previous, object, ignore)) return;
      changed(change.object.metadata?.name);
    },
  });
  const stateConfigMaps = watchNodeStates(client, {
    namespace,
    node: options.node,
    signal,
    onChange: (node, entry) => {
      if (entry) states.set(node, entry);
      else states.delete(node);
      changed(node);
    },
  });
  const topologyReady = watchTopology(client, {
    namespace,
    configMap: options.topologyConfigMap,
    file: options.topologyFile,
    signal,
    component: options.component,
    onChange: (next) => {
      topology = next;
      if (isReady) { for (const name of names()) options.onNodeChanged(name); }
    },
  });

  function names(): string[] {
    return [...new Set([...[...nodes.store.values()].map((n) => n.metadata!.name!), ...states.keys()])];
  }

  const ready = Promise.all([topologyReady, nodes.synced, stateConfigMaps.synced]).then(() => {
    isReady = true;
    for (const name of names()) options.onNodeChanged(name);
  });

  return {
    ready,
    topology: () => {
      if (!topology) throw new Error("Topology is not loaded yet");
      return topology;
    },
    node: (name) => nodes.store.get(name),
    state: (name) => states.get(name),
    nodeNames: names,
  };
}

/** Options of {@link watchNodeStates}. */
export interface NodeStatesWatchOptions {
  /** fakegpu's namespace. */
  namespace: string;
  /** Watch only this node's state; default every node's. */
  node?: string;
  /** Stops the watch. */
  signal: AbortSignal;
  /** Called with a node's state entry whenever its ConfigMap changes, and with `undefined` when it goes. */
  onChange: (node: string, entry: StateEntry | undefined) => void;
}

/**
 * Watches the node state ConfigMaps (list+watch) and hands each node's decoded state to `onChange`; an
 * invalid state is logged and handed on without `state`.
 */
export function watchNodeStates(
  client: KubeClient,
  options: NodeStatesWatchOptions,
): Reflector<ConfigMapObject> {
  return startReflector<ConfigMapObject>(client, {
    name: "node-states",
    path: `/api/v1/namespaces/${options.namespace}/configmaps`,
    labelSelector: STATE_SELECTOR,
    fieldSelector: options.node === undefined
      ? undefined
      : `metadata.name=${stateConfigMapName(options.node)}`,
    signal: options.signal,
    onChange: (change) => {
      if (change.type === "synced") return;
      const node = change.object.metadata?.annotations?.[STATE_NODE_ANNOTATION];
      if (!node) return;
      options.onChange(node, change.type === "delete" ? undefined : decodeEntry(change.object, node));
    },
  });
}

function decodeEntry(configMap: ConfigMapObject, node: string): StateEntry {
  try {
    return { configMap, state: stateFromConfigMap(configMap) };
  } catch (err) {
    log.warn("node state ConfigMap is invalid", { node, error: err });
    return { configMap };
  }
}
