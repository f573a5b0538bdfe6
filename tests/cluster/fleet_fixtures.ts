/**
 * Shared pieces of the end-to-end tests of the simulated GPU fleet: creating the default fleet, GPU pods,
 * and reading what the roles advertise (node GPU counts, GPU holders in the node states).
 *
 * @module
 */

import type { KubeClient } from "../../components/core/kube/client.ts";
import { decodeNodeState, STATE_SELECTOR } from "../../components/core/node_state.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../../components/core/topology_config.ts";
import { type FleetNodePlan, fleetNodes } from "../../components/local_fleet/fleet.ts";

/** fakegpu's namespace in the end-to-end tests. */
export const FLEET_NAMESPACE = "gpu-operator";

/** The node pool label of the default topology. */
export const POOL_KEY = "run.ai/simulated-gpu-node-pool";

/** A Node as the tests read it. */
export interface Node {
  /** Name and labels. */
  metadata: { name: string; labels?: Record<string, string> };
  /** Taints. */
  spec?: { taints?: unknown[] };
  /** Capacity and allocatable. */
  status?: { capacity?: Record<string, string>; allocatable?: Record<string, string> };
}

/** A Pod as the tests read it. */
export interface Pod {
  /** Identity and labels. */
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
  /** The node it is bound to. */
  spec: { nodeName?: string };
  /** Its phase. */
  status?: { phase?: string };
}

/** Creates fakegpu's namespace and the `topology` ConfigMap holding `topologyYaml`. */
export async function createTopology(client: KubeClient, topologyYaml: string): Promise<void> {
  await client.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: FLEET_NAMESPACE },
  });
  await client.create(`/api/v1/namespaces/${FLEET_NAMESPACE}/configmaps`, {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "topology", namespace: FLEET_NAMESPACE },
    data: { "topology.yml": topologyYaml },
  });
}

/**
 * Creates fakegpu's namespace, the `topology` ConfigMap with {@link DEFAULT_TOPOLOGY_YAML} and the default
 * fleet's KWOK nodes; returns the node plan.
 */
export async function createDefaultFleet(client: KubeClient): Promise<FleetNodePlan[]> {
  await createTopology(client, DEFAULT_TOPOLOGY_YAML);
  const plan = fleetNodes(parseTopologyYaml(DEFAULT_TOPOLOGY_YAML));
  for (const p of plan) await client.create("/api/v1/nodes", p.object);
  return plan;
}

/** Allocatable `nvidia.com/gpu` of every node, by node name. */
export async function gpuCounts(client: KubeClient): Promise<Record<string, string | undefined>> {
  const { items } = await client.list<Node>("/api/v1/nodes");
  return Object.fromEntries(items.map((n) => [n.metadata.name, n.status?.allocatable?.["nvidia.com/gpu"]]));
}

/** A pod in `default` asking for `gpus` GPUs on nodes matching `selector`, tolerating KWOK's taint. */
export function gpuPod(
  name: string,
  gpus: number,
  selector: Record<string, string>,
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: podSpec(gpus, selector),
  };
}

/** The spec of {@link gpuPod}. */
export function podSpec(gpus: number, selector: Record<string, string>): Record<string, unknown> {
  return {
    nodeSelector: selector,
    tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
    containers: [{
      name: "main",
      image: "cuda:fake",
      resources: { limits: { "nvidia.com/gpu": String(gpus) } },
    }],
  };
}

/** The (first) holder pod UID of every held GPU in the node state ConfigMaps, by GPU UUID. */
export async function holders(client: KubeClient): Promise<Map<string, string>> {
  const { items } = await client.list<{ data?: Record<string, string> }>(
    `/api/v1/namespaces/${FLEET_NAMESPACE}/configmaps`,
    { labelSelector: STATE_SELECTOR },
  );
  const byUuid = new Map<string, string>();
  for (const cm of items) {
    for (const d of decodeNodeState(cm.data!["state.yaml"]).devices) {
      if (d.holders) byUuid.set(d.uuid, d.holders[0].podUid);
    }
  }
  return byUuid;
}
