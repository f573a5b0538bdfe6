/**
 * dra-plugin's decision for one node, as a pure function shared by both node scopes: the ResourceSlice its
 * pool should have (one slice per pool, pool = node name, as NVIDIA's driver publishes it) and whether that
 * takes a create, an update (pool generation bumped), a delete or nothing.
 *
 * A node's pool is published while its state offers GPUs through DRA (`gpuOffer: dra` or `both`) and the
 * Node exists (the slice is owned by it, so garbage collection removes the slice with the Node). A slice is
 * never removed while the node is still in a pool but its state is momentarily missing (a restart of
 * status-updater, a config reload), only once the node left the pool, stopped offering DRA or is gone.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { KubeObject } from "../core/kube/client.ts";
import type { NodeGpuState } from "../core/node_state.ts";
import { DRA_DRIVER, type SliceDevice, sliceDevices } from "./devices.ts";

/** API version of the ResourceSlices and DeviceClasses dra-plugin writes. */
export const RESOURCE_API_VERSION = "resource.k8s.io/v1";

/** Which nodes one dra-plugin process serves. */
export type NodeScope = "kwok" | "this-node";

/** Label naming the scope whose process owns a slice; each process reads and writes only its own scope's. */
export const SCOPE_LABEL = "fakegpu.io/dra-node-scope";

/** Labels of every slice dra-plugin writes, by scope. */
export function sliceLabels(scope: NodeScope): Record<string, string> {
  return { "app.kubernetes.io/managed-by": "fakegpu", [SCOPE_LABEL]: scope };
}

/** The owner reference a slice carries to its Node. */
export interface OwnerReference {
  /** `v1`. */
  apiVersion: string;
  /** `Node`. */
  kind: string;
  /** Node name. */
  name: string;
  /** Node UID. */
  uid: string;
  /** Whether the owner is the managing controller. */
  controller?: boolean;
}

/** A `resource.k8s.io/v1` ResourceSlice, the fields dra-plugin reads and writes. */
export interface ResourceSlice extends KubeObject {
  /** `resource.k8s.io/v1`. */
  apiVersion?: string;
  /** `ResourceSlice`. */
  kind?: string;
  /** Name, labels, owner and the version to update from. */
  metadata: {
    name: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: OwnerReference[];
  };
  /** Driver, node, pool and devices. */
  spec: {
    driver: string;
    nodeName?: string;
    pool: { name: string; generation: number; resourceSliceCount: number };
    devices?: SliceDevice[];
  };
}

/**
 * The name of a node's slice: `<node>-gpu.nvidia.com` (NVIDIA's driver names its slices
 * `<node>-gpu.nvidia.com-<random>`), or `gpu.nvidia.com-<sha1 of the node name>` when that is longer than a
 * name may be. A fixed name makes creation idempotent.
 */
export function sliceName(node: string): string {
  const name = `${node}-${DRA_DRIVER}`;
  if (name.length <= 253) return name;
  return `${DRA_DRIVER}-${createHash("sha1").update(node).digest("hex")}`;
}

/** Inputs of {@link sliceAction}. */
export interface SliceInput {
  /** Node name (= pool name). */
  node: string;
  /** Scope of this process, written as {@link SCOPE_LABEL}. */
  scope: NodeScope;
  /** UID of the Node; undefined when the Node does not exist. */
  nodeUid?: string;
  /** Whether this process serves the node (a KWOK node in scope `kwok`, its own node in `this-node`). */
  served: boolean;
  /** Whether the node carries the pool label. */
  inPool: boolean;
  /** The node's state, if status-updater has written it. */
  state?: NodeGpuState;
  /** The node's slice as it is, if it exists. */
  current?: ResourceSlice;
}

/** What to do with a node's slice. */
export type SliceAction =
  | { type: "none" }
  | { type: "create"; slice: ResourceSlice }
  | { type: "update"; slice: ResourceSlice }
  | { type: "delete"; name: string };

function offersDra(state: NodeGpuState | undefined): state is NodeGpuState {
  return state?.gpuOffer === "dra" || state?.gpuOffer === "both";
}

/** The slice a node's pool should have, at the given pool generation. */
function desiredSlice(
  input: SliceInput & { nodeUid: string; state: NodeGpuState },
  generation: number,
): ResourceSlice {
  return {
    apiVersion: RESOURCE_API_VERSION,
    kind: "ResourceSlice",
    metadata: {
      name: sliceName(input.node),
      labels: sliceLabels(input.scope),
      ownerReferences: [{
        apiVersion: "v1",
        kind: "Node",
        name: input.node,
        uid: input.nodeUid,
        controller: true,
      }],
    },
    spec: {
      driver: DRA_DRIVER,
      nodeName: input.node,
      pool: { name: input.node, generation, resourceSliceCount: 1 },
      devices: sliceDevices(input.state),
    },
  };
}

const LABEL_KEYS = Object.keys(sliceLabels("kwok"));

/** The parts of a slice that dra-plugin decides, for comparing a desired slice with the stored one. */
function decided(slice: ResourceSlice): unknown {
  return {
    labels: Object.fromEntries(LABEL_KEYS.map((k) => [k, slice.metadata.labels?.[k]])),
    owners: (slice.metadata.ownerReferences ?? []).map(({ apiVersion, kind, name, uid, controller }) => ({
      apiVersion,
      kind,
      name,
      uid,
      controller,
    })),
    driver: slice.spec.driver,
    nodeName: slice.spec.nodeName,
    pool: { name: slice.spec.pool.name, resourceSliceCount: slice.spec.pool.resourceSliceCount },
    devices: (slice.spec.devices ?? []).map(({ name, attributes, capacity }) => ({
      name,
      attributes,
      capacity,
    })),
  };
}

/**
 * What a node's slice needs: created when the pool should be published and is not, updated with the next pool
 * generation when its devices (or owner, or labels) differ, deleted when the node no longer publishes, and
 * nothing otherwise — in steady state no write at all.
 *
 * @throws {TypeError} When the state holds a value the driver could not have published (see {@link sliceDevices}).
 */
export function sliceAction(input: SliceInput): SliceAction {
  const { current } = input;
  if (input.served && input.nodeUid !== undefined && offersDra(input.state)) {
    const want = { ...input, nodeUid: input.nodeUid, state: input.state };
    if (!current) return { type: "create", slice: desiredSlice(want, 1) };
    const next = desiredSlice(want, current.spec.pool.generation);
    if (isDeepStrictEqual(decided(current), decided(next))) return { type: "none" };
    next.spec.pool.generation = current.spec.pool.generation + 1;
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    return { type: "update", slice: next };
  }
  const stateMissingInPool = input.served && input.nodeUid !== undefined && input.inPool && !input.state;
  if (!current || stateMissingInPool) return { type: "none" };
  return { type: "delete", name: current.metadata.name };
}
