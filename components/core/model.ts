/**
 * The shared GPU model every fakegpu role reads: GPU models from the catalogue, resolved node pools,
 * the per-GPU identity and the per-node state. One GPU has one identity (UUID, index, minor, PCI bus id,
 * serial, name, memory) wherever it shows up: node labels, metrics, device-plugin IDs, DRA devices,
 * nvidia-smi.
 *
 * @module
 */

import type { MigLayoutSpec } from "./mig_layout.ts";

/** One MIG GPU-instance profile of a model, e.g. `1g.10gb` on an H100 80GB. */
export interface MigProfile {
  /** Profile name without the `MIG ` prefix, e.g. `1g.10gb` or `1g.10gb+me`. */
  name: string;
  /** NVML GPU-instance profile id (19 for 1g, 14 for 2g, 9 for 3g, 5 for 4g, 0 for 7g). */
  giProfileId: number;
  /** How many instances of this profile fit on one GPU. */
  maxCount: number;
  /** Memory of one instance in MiB, as nvidia-smi shows it. */
  memoryMiB: number;
  /** Streaming multiprocessors of one instance. */
  smCount: number;
}

/** A GPU model as the real tools report it (nvidia-smi, NVML, DCGM, GFD). */
export interface GpuModel {
  /** Short profile name used in configs, e.g. `h100`, `a100-80gb`, `l40s`. */
  key: string;
  /** Exact nvidia-smi / NVML / DCGM `modelName` string, e.g. `NVIDIA H100 80GB HBM3`. */
  name: string;
  /** Total framebuffer memory in MiB as nvidia-smi and GFD `gpu.memory` report it. */
  memoryMiB: number;
  /** Architecture as nvidia-smi -q prints it, e.g. `Hopper`, `Ada Lovelace`. */
  architecture: string;
  /** GFD `nvidia.com/gpu.family` value, e.g. `hopper`, `ada-lovelace`. */
  family: string;
  /** CUDA compute capability. */
  computeCapability: { major: number; minor: number };
  /** Streaming multiprocessor count of the full GPU. */
  smCount: number;
  /** PCI device id (vendor 0x10DE), e.g. 0x2330. */
  pciDeviceId: number;
  /** Board form factor; decides the PCI bus layout of a multi-GPU node. */
  formFactor: "sxm" | "pcie";
  /** Power: enforced cap, typical idle and typical full-load draw, in watts. */
  power: { capW: number; idleW: number; loadW: number };
  /** Typical GPU temperatures in Celsius; memory runs `memoryOffsetC` above the GPU (HBM). */
  temperature: { idleC: number; loadC: number; memoryOffsetC: number };
  /** Clocks in MHz: SM idle and max, memory. */
  clocks: { smIdleMHz: number; smMaxMHz: number; memoryMHz: number };
  /** Performance state nvidia-smi shows when idle (`P0` on HBM boards, `P8` on GDDR boards). */
  idlePerfState: "P0" | "P8";
  /** GPU-instance profiles; empty when the model is not MIG capable. */
  migProfiles: MigProfile[];
  /**
   * GPUs on the usual server for this model (8 on HGX boards, 4 on a GB200 compute tray, 1 on GH200);
   * a config that names a profile without a count gets this many. Treat a missing value as 8.
   */
  gpusPerNode?: number;
  /**
   * Grace superchip (GH200, GB200): every GPU sits in a PCI domain of its own at bus 01
   * (`00000008:01:00.0`, `00000009:01:00.0`, …) instead of on the HGX or PCIe bus layout.
   */
  superchip?: boolean;
}

/** A node pool after config resolution: which model, how many, which extra resources. */
export interface PoolSpec {
  /** Pool name, equal to the value of the node's pool label. */
  name: string;
  /** The GPU model of every GPU in the pool (a synthetic model for unknown products). */
  model: GpuModel;
  /** GPUs per node. */
  gpuCount: number;
  /** NVIDIA driver version, e.g. `580.105.08`. */
  driverVersion: string;
  /** CUDA version the driver supports, e.g. `13.0`. */
  cudaVersion: string;
  /** Extended resources other than `nvidia.com/gpu`, by resource name. */
  otherResources: Record<string, number>;
  /** Backend named in the config: `fake` or `mock` (accepted for compatibility; fakegpu simulates both). */
  backend: "fake" | "mock";
  /** How many KWOK nodes `local-fleet` creates for the pool (fakegpu's own field; default 1). */
  nodeCount?: number;
  /** How the pool's GPUs are offered to the scheduler (fakegpu's own field); absent means `extended-resource`. */
  gpuOffer?: GpuOffer;
  /**
   * Time-slicing: each GPU is advertised as this many `nvidia.com/gpu` (NVIDIA's `sharing.timeSlicing` replicas);
   * absent means 1, no sharing.
   */
  replicas?: number;
  /**
   * MIG layout of the pool's GPUs (fakegpu's own field; a node's `nvidia.com/mig.config` label overrides it);
   * absent means MIG off (`all-disabled`).
   */
  migConfig?: MigLayoutSpec;
  /** GPU sharing by a sharing scheduler (fakegpu's own field); absent means none. */
  sharing?: PoolSharing;
}

/** How a pool's GPUs are shared by a sharing scheduler. */
export interface PoolSharing {
  /** HAMi: fakegpu plays HAMi's device plugin on the pool's KWOK nodes. */
  hami: HamiSharing;
}

/** The settings of HAMi's device plugin that fakegpu applies to a pool (HAMi's `nvidia:` device config). */
export interface HamiSharing {
  /** Pods one GPU takes at most (`deviceSplitCount`); each GPU counts this many in `nvidia.com/gpu`. */
  splitCount: number;
  /** Factor on the memory a GPU registers (`deviceMemoryScaling`; above 1 oversubscribes). */
  memoryScaling: number;
  /** Factor on the cores a GPU registers, 100 × this (`deviceCoreScaling`). */
  coreScaling: number;
  /** Format of `hami.io/node-nvidia-register`: `json` (HAMi v2.8+) or `text` (up to v2.7). */
  registerFormat: "json" | "text";
}

/**
 * How a pool's GPUs reach the scheduler: `extended-resource` (`nvidia.com/gpu` in node status, written by
 * device-plugin), `dra` (ResourceSlices of driver `gpu.nvidia.com`, written by dra-plugin) or `both`.
 */
export type GpuOffer = "extended-resource" | "dra" | "both";

/** MIG strategy as the NVIDIA device plugin and GFD understand it. */
export type MigStrategy = "none" | "single" | "mixed";

/** The whole cluster topology: pools and how nodes join them. */
export interface ClusterTopology {
  /** Node label key whose value names the node's pool. */
  nodePoolLabelKey: string;
  /** MIG strategy advertised for every pool. */
  migStrategy: MigStrategy;
  /** Pools by name. */
  pools: Record<string, PoolSpec>;
}

/** The identity of one GPU on one node; stable for a node name and index. */
export interface GpuDevice {
  /** Position on the node; also the minor number (`/dev/nvidia<minor>`). */
  index: number;
  /** `GPU-` + 8-4-4-4-12 lowercase hex. */
  uuid: string;
  /** NVML form `%08X:%02X:%02X.0`, e.g. `00000000:53:00.0`. */
  pciBusId: string;
  /** 13-digit board serial number. */
  serial: string;
}
