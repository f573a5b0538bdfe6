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
import { HAMI_HANDSHAKE_ANNOTATION, HAMI_REGISTER_ANNOTATION } from "./hami.ts";
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
  /**
   * Set by {@link slimNode} on a KWOK node read with its status: whether KWOK has initialized it (condition
   * Ready is True). Absent on a node read without status and on other nodes.
   */
  kwokInitialized?: boolean;
}

/**
 * Whether the roles may write a node yet. KWOK initializes a new node with one status patch, and plays that
 * again for every update it sees before its own patch has come back; the roles' label and status writes,
 * sent within milliseconds of a node's creation, made it patch most nodes twice or three times. So a KWOK
 * node is written only once KWOK's patch is visible, as a device plugin on a
 * real node registers only once its kubelet runs.
 */
export function nodeWritable(node: NodeObject): boolean {
  return node.kwokInitialized !== false;
}

/** Field managers whose ownership the roles read from `managedFields` (fakegpu's own). */
const OWN_MANAGER_PREFIX = "fakegpu";

/** Node annotations the roles read: KWOK's marker, simulated faults, HAMi's registration and handshake. */
const KEPT_ANNOTATIONS = [
  KWOK_NODE_ANNOTATION,
  GPU_FAULTS_ANNOTATION,
  HAMI_REGISTER_ANNOTATION,
  HAMI_HANDSHAKE_ANNOTATION,
];

/**
 * A Node trimmed to what the roles read: name, labels, the annotations the roles read, fakegpu's own
 * managed-field entries, capacity and allocatable. Keeps a 1000-node fleet cheap to hold in memory.
 */
export function slimNode(node: NodeObject): NodeObject {
  const meta = node.metadata ?? {};
  const kept = KEPT_ANNOTATIONS.filter((k) => meta.annotations?.[k] !== undefined);
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
    ...(node.status && isKwokNode(node) ? { kwokInitialized: isReady(node.status) } : {}),
  };
}

function isReady(status: NonNullable<NodeObject["status"]>): boolean {
  const conditions = status.conditions as { type?: string; status?: string }[] | undefined;
  return conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
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
  /** Stops this view (the watches stop once no view of them is left). */
  signal: AbortSignal;
  /** Role name for Events. */
  component: string;
  /** Called with a node name whenever the node, its state or the topology changes (after `ready`). */
  onNodeChanged: (node: string) => void;
  /** Watch only this node and its state (a per-node process); default every node. */
  node?: string;
  /**
   * Whether the role reads node status (capacity, allocatable): a status change then counts. Nodes are
   * watched with their status either way: it tells when KWOK has initialized a node ({@link nodeWritable}).
   * @default true
   */
  readsNodeStatus?: boolean;
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

/** One view's wishes: who to tell, and whether a change of node status counts for it. */
interface Subscriber {
  onNodeChanged: (node: string) => void;
  readsNodeStatus: boolean;
  ready: boolean;
}

/** The watches behind one or more {@link FleetWatch} views: topology, Nodes, state ConfigMaps. */
interface FleetSource {
  readonly ready: Promise<void>;
  readonly subscribers: Set<Subscriber>;
  topology(): ClusterTopology | undefined;
  nodes: Reflector<NodeObject>;
  states: Map<string, StateEntry>;
  names(): string[];
}

let sharing = false;

/**
 * Makes the roles of this process share their fleet watches: views of the same cluster, namespace, topology
 * and node set use one Node watch and one topology watch, and every reader of node states one state watch
 * (each state decoded once). Used when several roles run in one process; the shared watches use the client of
 * the role that started them, so the roles stop together.
 */
export function shareFleetWatches(): void {
  sharing = true;
}

/** Watches the roles of this process share by what they watch, each stopped when its last user leaves. */
class SharedWatches<T> {
  #running = new Map<string, { value: T; users: number; stop: AbortController }>();

  /**
   * The watch `key` names (started by `start` unless shared and running), used until `signal` aborts;
   * `onLeave` then runs. Without {@link shareFleetWatches} every call starts its own.
   */
  join(key: string, signal: AbortSignal, start: (signal: AbortSignal) => T, onLeave: (value: T) => void): T {
    let running = sharing ? this.#running.get(key) : undefined;
    if (!running) {
      const stop = new AbortController();
      running = { value: start(stop.signal), users: 0, stop };
      if (sharing) this.#running.set(key, running);
    }
    const joined = running;
    joined.users++;
    const leave = () => {
      onLeave(joined.value);
      if (--joined.users > 0) return;
      joined.stop.abort();
      if (this.#running.get(key) === joined) this.#running.delete(key);
    };
    if (signal.aborted) queueMicrotask(leave);
    else signal.addEventListener("abort", leave, { once: true });
    return joined.value;
  }
}

const fleetSources = new SharedWatches<FleetSource>();

/** Starts watching topology, Nodes and state ConfigMaps (or joins this process's shared watches). */
export function watchFleet(client: KubeClient, options: FleetWatchOptions): FleetWatch {
  const subscriber: Subscriber = {
    onNodeChanged: options.onNodeChanged,
    readsNodeStatus: options.readsNodeStatus ?? true,
    ready: false,
  };
  const key = JSON.stringify([
    client.server,
    options.namespace,
    options.topologyConfigMap,
    options.topologyFile ?? "",
    options.node ?? "",
  ]);
  const source = fleetSources.join(
    key,
    options.signal,
    (signal) => startFleetSource(client, options, signal),
    (left) => left.subscribers.delete(subscriber),
  );
  source.subscribers.add(subscriber);

  return {
    ready: source.ready.then(() => {
      if (options.signal.aborted) return;
      subscriber.ready = true;
      for (const name of source.names()) subscriber.onNodeChanged(name);
    }),
    topology: () => {
      const topology = source.topology();
      if (!topology) throw new Error("Topology is not loaded yet");
      return topology;
    },
    node: (name) => source.nodes.store.get(name),
    state: (name) => source.states.get(name),
    nodeNames: () => source.names(),
  };
}

function startFleetSource(
  client: KubeClient,
  options: FleetWatchOptions,
  signal: AbortSignal,
): FleetSource {
  const subscribers = new Set<Subscriber>();
  let topology: ClusterTopology | undefined;
  const states = new Map<string, StateEntry>();
  const changed = (name: string | undefined, counts: (s: Subscriber) => boolean = () => true) => {
    if (!name) return;
    for (const s of subscribers) if (s.ready && counts(s)) s.onNodeChanged(name);
  };

  const nodes = startReflector<NodeObject>(client, {
    name: "nodes",
    path: "/api/v1/nodes",
    fieldSelector: options.node === undefined ? undefined : `metadata.name=${options.node}`,
    signal,
    transform: (node) => slimNode(node),
    onChange: (change) => {
      if (change.type === "synced") return;
      const name = change.object.metadata?.name;
      const { previous, object } = change.type === "upsert" ? change : {};
      if (!previous || !object) return changed(name);
      // KWOK's heartbeats change nothing the roles read: no need to look at the node again.
      if (sameApartFromVersion(previous, object)) return;
      const statusOnly = sameApartFromVersion(previous, object, ["status"]);
      changed(name, (s) => s.readsNodeStatus || !statusOnly);
    },
  });
  const stateConfigMaps = watchNodeStates(client, {
    namespace: options.namespace,
    node: options.node,
    signal,
    onChange: (node, entry) => {
      if (entry) states.set(node, entry);
      else states.delete(node);
      changed(node);
    },
  });
  const topologyReady = watchTopology(client, {
    namespace: options.namespace,
    configMap: options.topologyConfigMap,
    file: options.topologyFile,
    signal,
    component: options.component,
    onChange: (next) => {
      topology = next;
      for (const name of names()) changed(name);
    },
  });

  function names(): string[] {
    return [...new Set([...[...nodes.store.values()].map((n) => n.metadata!.name!), ...states.keys()])];
  }

  return {
    ready: Promise.all([topologyReady, nodes.synced, stateConfigMaps.synced]).then(() => {}),
    subscribers,
    topology: () => topology,
    nodes,
    states,
    names,
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

/** One state watch and everyone reading it. */
interface StatesHub {
  reflector: Reflector<ConfigMapObject>;
  entries: Map<string, StateEntry>;
  readers: Set<NodeStatesWatchOptions["onChange"]>;
}

const stateWatches = new SharedWatches<StatesHub>();

/**
 * Watches the node state ConfigMaps (list+watch) and hands each node's decoded state to `onChange`; an
 * invalid state is logged and handed on without `state`. A reader joining a shared watch first gets every
 * state it already holds.
 */
export function watchNodeStates(
  client: KubeClient,
  options: NodeStatesWatchOptions,
): Reflector<ConfigMapObject> {
  const hub = stateWatches.join(
    JSON.stringify([client.server, options.namespace, options.node ?? ""]),
    options.signal,
    (signal) => startStatesHub(client, options, signal),
    (left) => left.readers.delete(options.onChange),
  );
  for (const [node, entry] of hub.entries) options.onChange(node, entry);
  hub.readers.add(options.onChange);
  return hub.reflector;
}

function startStatesHub(client: KubeClient, options: NodeStatesWatchOptions, signal: AbortSignal): StatesHub {
  const entries = new Map<string, StateEntry>();
  const readers = new Set<NodeStatesWatchOptions["onChange"]>();
  const reflector = startReflector<ConfigMapObject>(client, {
    name: "node-states",
    path: `/api/v1/namespaces/${options.namespace}/configmaps`,
    labelSelector: STATE_SELECTOR,
    fieldSelector: options.node === undefined
      ? undefined
      : `metadata.name=${stateConfigMapName(options.node)}`,
    signal,
    onChange: (change) => {
      if (change.type === "synced") return;
      const node = change.object.metadata?.annotations?.[STATE_NODE_ANNOTATION];
      if (!node) return;
      const entry = change.type === "delete" ? undefined : decodeEntry(change.object, node);
      if (entry) entries.set(node, entry);
      else entries.delete(node);
      for (const read of readers) read(node, entry);
    },
  });
  return { reflector, entries, readers };
}

function decodeEntry(configMap: ConfigMapObject, node: string): StateEntry {
  try {
    return { configMap, state: stateFromConfigMap(configMap) };
  } catch (err) {
    log.warn("node state ConfigMap is invalid", { node, error: err });
    return { configMap };
  }
}
