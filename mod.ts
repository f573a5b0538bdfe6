/**
 * fakegpu's public model: the GPU catalogue, the cluster topology config, GPU identities, the per-node
 * GPU state, GPU assignment and the GPU Feature Discovery labels. Every role reads these, so one GPU has
 * one UUID, index, bus id and memory everywhere.
 *
 * @example
 * ```ts
 * import { DEFAULT_TOPOLOGY_YAML, gpuDevices, parseTopologyYaml } from "./mod.ts";
 * const topology = parseTopologyYaml(DEFAULT_TOPOLOGY_YAML);
 * const devices = gpuDevices("kwok-h100-0", topology.pools.h100.model, topology.pools.h100.gpuCount);
 * ```
 *
 * @module
 */
export type {
  ClusterTopology,
  GpuDevice,
  GpuModel,
  MigProfile,
  MigStrategy,
  PoolSpec,
} from "./components/core/model.ts";
export {
  findGpuModel,
  GPU_CATALOGUE,
  sanitiseProductName,
  unknownGpuModel,
} from "./components/core/catalogue.ts";
export {
  DEFAULT_TOPOLOGY_YAML,
  parseTopology,
  parseTopologyYaml,
  TopologyConfigError,
} from "./components/core/topology_config.ts";
export { gpuDevices, migDeviceUuid } from "./components/core/identity.ts";
export {
  decodeNodeState,
  encodeNodeState,
  type GpuHolder,
  type NodeGpuDevice,
  type NodeGpuState,
  stateConfigMapName,
  type UtilizationRange,
} from "./components/core/node_state.ts";
export { assignGpus, GPU_RESOURCE, podGpuDemand } from "./components/core/allocation.ts";
export { gpuNodeLabels } from "./components/core/gfd_labels.ts";
