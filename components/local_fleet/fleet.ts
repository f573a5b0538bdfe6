/**
 * The local fleet's plan, as pure functions: which KWOK nodes to create for a topology (named
 * `kwok-<pool>-<n>`, shaped like the course's fake GPU nodes) and the table printed once they are up.
 *
 * @module
 */
import type { ClusterTopology, GpuOffer } from "../core/model.ts";
import { KWOK_NODE_ANNOTATION } from "../core/fleet_watch.ts";

/** One node the local fleet creates. */
export interface FleetNodePlan {
  /** Node name. */
  name: string;
  /** Pool name. */
  pool: string;
  /** nvidia-smi product name of its GPUs. */
  product: string;
  /** GPUs the node should advertise. */
  gpus: number;
  /** Memory of one GPU in MiB. */
  memoryMiB: number;
  /** How the pool offers its GPUs. */
  gpuOffer: GpuOffer;
  /** The Node object to create. */
  object: Record<string, unknown>;
}

/** Node capacity of every fleet node (no GPUs: fakegpu advertises those). */
export const FLEET_NODE_CAPACITY = { cpu: "96", memory: "1024Gi", pods: "110" };

/**
 * RuntimeClass `nvidia` (handler `runc`), as the chart and the GPU operator create it: schedulers such as KAI
 * put `runtimeClassName: nvidia` on GPU pods, which the API server refuses while the class is missing.
 */
export const NVIDIA_RUNTIME_CLASS = {
  apiVersion: "node.k8s.io/v1",
  kind: "RuntimeClass",
  metadata: { name: "nvidia", labels: { "app.kubernetes.io/managed-by": "fakegpu" } },
  handler: "runc",
};

/** The KWOK nodes for a topology: `nodeCount` nodes per pool (1 when unset), pools in name order. */
export function fleetNodes(topology: ClusterTopology): FleetNodePlan[] {
  const plan: FleetNodePlan[] = [];
  for (const [poolName, pool] of Object.entries(topology.pools).sort(([a], [b]) => a.localeCompare(b))) {
    for (let i = 0; i < (pool.nodeCount ?? 1); i++) {
      const name = `kwok-${poolName}-${i}`;
      plan.push({
        name,
        pool: poolName,
        product: pool.model.name,
        gpus: pool.gpuCount,
        memoryMiB: pool.model.memoryMiB,
        gpuOffer: pool.gpuOffer ?? "extended-resource",
        object: {
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name,
            annotations: { [KWOK_NODE_ANNOTATION]: "fake" },
            labels: {
              type: "kwok",
              "gpu-pool": poolName,
              [topology.nodePoolLabelKey]: poolName,
              "kubernetes.io/hostname": name,
            },
          },
          spec: { taints: [{ key: KWOK_NODE_ANNOTATION, value: "fake", effect: "NoSchedule" }] },
          status: { capacity: FLEET_NODE_CAPACITY, allocatable: FLEET_NODE_CAPACITY },
        },
      });
    }
  }
  return plan;
}

/** A plain-text table of the fleet: node, pool, product, GPUs, memory per GPU, and a total line. */
export function fleetTable(plan: FleetNodePlan[]): string {
  const header = ["NODE", "POOL", "PRODUCT", "GPUS", "MEMORY/GPU"];
  const rows = plan.map((p) => [p.name, p.pool, p.product, String(p.gpus), `${p.memoryMiB} MiB`]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const total = plan.reduce((sum, p) => sum + p.gpus, 0);
  return [line(header), ...rows.map(line), `${plan.length} nodes, ${total} GPUs`].join("\n");
}
