/**
 * Topologies the Helm chart's values.schema.json and the roles' run-time parser must judge alike. `ok`
 * rows pass both; `bad` rows fail both, each naming `field`; `runtime` rows pass the schema (which cannot
 * look into the GPU catalogue or parse versions) and fail at run time, where a role reports them (log line
 * and Warning Event `InvalidTopology`) and keeps the last good topology.
 *
 * @module
 */

/** One row of the table. */
export interface TopologyRow {
  /** What the row shows. */
  name: string;
  /** The values key holding the topology. */
  key: "topology" | "cluster";
  /** The topology. */
  topology: Record<string, unknown>;
  /** Who accepts it. */
  verdict: "ok" | "bad" | "runtime";
  /** For `bad` and `runtime` rows: the field both messages name. */
  field?: string;
}

const a100 = { gpuProduct: "NVIDIA-A100-SXM4-80GB", gpuCount: 8, gpuMemory: 81920 };

function legacy(pool: Record<string, unknown>, top: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...top, nodePools: { a100: pool } };
}

function newFormat(pool: Record<string, unknown>): Record<string, unknown> {
  return { nodePools: { h100: pool } };
}

/** The table. */
export const TOPOLOGY_TABLE: TopologyRow[] = [
  { name: "legacy pool", key: "topology", topology: legacy(a100), verdict: "ok" },
  {
    name: "legacy pool with other devices and versions",
    key: "topology",
    topology: legacy({
      ...a100,
      otherDevices: [{ name: "rdma/rdma_shared_device_a", count: 1 }],
      driverVersion: "550.54.15",
      cudaVersion: 12.4,
    }),
    verdict: "ok",
  },
  {
    name: "mig strategy, own pool label and upstream's extra keys",
    key: "topology",
    topology: legacy({ ...a100, numa: { zones: 2 } }, {
      migStrategy: "mixed",
      nodePoolLabelKey: "example.com/gpu-pool",
      gpuOperator: { version: "v24.9.0" },
    }),
    verdict: "ok",
  },
  {
    name: "new format with profile, overrides and resources",
    key: "cluster",
    topology: newFormat({
      gpu: { backend: "fake", profile: "h100", overrides: { device_count: 4 } },
      resources: [{ "rdma/rdma_shared_device_a": 1 }],
    }),
    verdict: "ok",
  },
  {
    name: "new format without profile",
    key: "topology",
    topology: newFormat({
      gpu: {
        backend: "mock",
        overrides: {
          device_defaults: { name: "Custom GPU", memory: { total_bytes: 17179869184 } },
          devices: [{}, {}],
        },
      },
    }),
    verdict: "ok",
  },
  {
    name: "GPU count as a word",
    key: "topology",
    topology: legacy({ ...a100, gpuCount: "eight" }),
    verdict: "bad",
    field: "gpuCount",
  },
  {
    name: "zero GPUs",
    key: "topology",
    topology: legacy({ ...a100, gpuCount: 0 }),
    verdict: "bad",
    field: "gpuCount",
  },
  {
    name: "more GPUs than a node holds",
    key: "topology",
    topology: legacy({ ...a100, gpuCount: 300 }),
    verdict: "bad",
    field: "gpuCount",
  },
  {
    name: "misspelt pool field",
    key: "topology",
    topology: legacy({ gpuProduct: "NVIDIA-L40S", gpuCont: 4, gpuCount: 4 }),
    verdict: "bad",
    field: "gpuCont",
  },
  {
    name: "misspelt top-level field",
    key: "cluster",
    topology: { nodePools: { a100 }, migStrategey: "none" },
    verdict: "bad",
    field: "migStrategey",
  },
  {
    name: "unknown MIG strategy",
    key: "topology",
    topology: legacy(a100, { migStrategy: "sometimes" }),
    verdict: "bad",
    field: "migStrategy",
  },
  {
    name: "pool mixing both formats",
    key: "topology",
    topology: legacy({ ...a100, gpu: { profile: "a100" } }),
    verdict: "bad",
    field: "a100",
  },
  {
    name: "pool name that is no label value",
    key: "topology",
    topology: { nodePools: { "a100 pool": a100 } },
    verdict: "bad",
    field: "a100 pool",
  },
  {
    name: "negative device count",
    key: "topology",
    topology: legacy({ ...a100, otherDevices: [{ name: "rdma/hca", count: -1 }] }),
    verdict: "bad",
    field: "count",
  },
  {
    name: "unknown backend",
    key: "cluster",
    topology: newFormat({ gpu: { backend: "real", profile: "h100" } }),
    verdict: "bad",
    field: "backend",
  },
  {
    name: "new-format pool without gpu",
    key: "cluster",
    topology: newFormat({ resources: [{ "rdma/hca": 1 }] }),
    verdict: "bad",
    field: "gpu",
  },
  {
    name: "unknown profile",
    key: "cluster",
    topology: newFormat({ gpu: { profile: "quantum-9000" } }),
    verdict: "runtime",
    field: "profile",
  },
  {
    name: "unknown product without memory",
    key: "topology",
    topology: legacy({ gpuProduct: "Imaginary-GPU", gpuCount: 2 }),
    verdict: "runtime",
    field: "gpuMemory",
  },
  {
    name: "driver version that is no version",
    key: "topology",
    topology: legacy({ ...a100, driverVersion: "latest" }),
    verdict: "runtime",
    field: "driverVersion",
  },
  {
    name: "pool label key that is no label key",
    key: "topology",
    topology: legacy(a100, { nodePoolLabelKey: "not a label key!" }),
    verdict: "runtime",
    field: "nodePoolLabelKey",
  },
];
