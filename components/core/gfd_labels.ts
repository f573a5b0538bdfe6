/**
 * The node labels NVIDIA GPU Feature Discovery and the GPU operator put on a GPU node, computed from a
 * pool: product, count, memory, family, compute capability, CUDA driver and runtime versions, sharing,
 * MIG. Values use GFD's real formats so selectors written for real clusters work unchanged.
 *
 * @module
 */
import { sanitiseProductName } from "./catalogue.ts";
import type { MigLayout } from "./mig_layout.ts";
import type { GpuModel, MigStrategy, PoolSpec } from "./model.ts";

/** Inputs of {@link gpuNodeLabels}. */
export interface GpuNodeLabelInput {
  /** The node's pool. */
  pool: PoolSpec;
  /** The cluster's MIG strategy. */
  migStrategy: MigStrategy;
  /** Whether the node is a KWOK node (no per-node DaemonSets run there). */
  kwok: boolean;
  /** GFD `gpu.machine` (sanitised DMI product name). @default "unknown" */
  machine?: string;
  /** The node's MIG instances per GPU (see `decideMigConfig`); absent or empty lists: no MIG devices. */
  migLayout?: MigLayout;
}

/** GFD's labels of `count` MIG devices of a profile under `prefix` (`nvidia.com/gpu` or `nvidia.com/mig-<profile>`). */
function migDeviceLabels(
  prefix: string,
  model: GpuModel,
  name: string,
  count: number,
): Record<string, string> {
  const profile = model.migProfiles.find((p) => p.name === name);
  const slices = /^(\d+)g\./.exec(name)?.[1] ?? "1";
  return {
    [`${prefix}.count`]: String(count),
    [`${prefix}.product`]: `${sanitiseProductName(model.name)}-MIG-${name}`,
    [`${prefix}.replicas`]: "1",
    [`${prefix}.sharing-strategy`]: "none",
    [`${prefix}.memory`]: String(profile?.memoryMiB ?? 0),
    [`${prefix}.multiprocessors`]: String(profile?.smCount ?? 0),
    [`${prefix}.slices.gi`]: slices,
    [`${prefix}.slices.ci`]: slices,
  };
}

function versionParts(version: string): string[] {
  return version.split(".");
}

/** The GFD and GPU-operator labels a node of the pool carries. Every value is a string. */
export function gpuNodeLabels(input: GpuNodeLabelInput): Record<string, string> {
  const { pool, migStrategy, kwok } = input;
  const model = pool.model;
  const [driverMajor = "0", driverMinor = "0", driverRev = "0"] = versionParts(pool.driverVersion);
  const [cudaMajor = "0", cudaMinor = "0"] = versionParts(pool.cudaVersion);
  const replicas = pool.replicas ?? 1;
  const labels: Record<string, string> = {
    "nvidia.com/gpu.present": "true",
    "nvidia.com/gpu.product": sanitiseProductName(model.name) + (replicas > 1 ? "-SHARED" : ""),
    "nvidia.com/gpu.count": String(pool.gpuCount),
    "nvidia.com/gpu.memory": String(model.memoryMiB),
    "nvidia.com/gpu.family": model.family,
    "nvidia.com/gpu.compute.major": String(model.computeCapability.major),
    "nvidia.com/gpu.compute.minor": String(model.computeCapability.minor),
    "nvidia.com/gpu.machine": sanitiseProductName(input.machine ?? "unknown"),
    "nvidia.com/gpu.replicas": String(replicas),
    "nvidia.com/gpu.sharing-strategy": replicas > 1 ? "time-slicing" : "none",
    "nvidia.com/gpu.mode": "compute",
    "nvidia.com/mig.capable": String(model.migProfiles.length > 0),
    "nvidia.com/mps.capable": "false",
    "nvidia.com/vgpu.present": "false",
    "nvidia.com/cuda.driver-version.major": driverMajor,
    "nvidia.com/cuda.driver-version.minor": driverMinor,
    "nvidia.com/cuda.driver-version.revision": driverRev,
    "nvidia.com/cuda.driver-version.full": pool.driverVersion,
    "nvidia.com/cuda.driver.major": driverMajor,
    "nvidia.com/cuda.driver.minor": driverMinor,
    "nvidia.com/cuda.driver.rev": driverRev,
    "nvidia.com/cuda.runtime-version.major": cudaMajor,
    "nvidia.com/cuda.runtime-version.minor": cudaMinor,
    "nvidia.com/cuda.runtime-version.full": pool.cudaVersion,
    "nvidia.com/cuda.runtime.major": cudaMajor,
    "nvidia.com/cuda.runtime.minor": cudaMinor,
    "nvidia.com/gpu.deploy.dcgm-exporter": "true",
    "run.ai/fake.gpu": "true",
  };
  if (migStrategy !== "none") labels["nvidia.com/mig.strategy"] = migStrategy;
  const instances = (input.migLayout ?? []).flat();
  if (migStrategy === "mixed") {
    for (const profile of new Set(instances.map((i) => i.profile))) {
      const count = instances.filter((i) => i.profile === profile).length;
      Object.assign(labels, migDeviceLabels(`nvidia.com/mig-${profile}`, model, profile, count));
    }
  } else if (migStrategy === "single" && instances.length > 0) {
    const profiles = new Set(instances.map((i) => i.profile));
    if (profiles.size > 1 || input.migLayout!.some((gpu) => gpu.length === 0)) {
      labels["nvidia.com/gpu.product"] = `${sanitiseProductName(model.name)}-MIG-INVALID`;
      labels["nvidia.com/gpu.count"] =
        labels["nvidia.com/gpu.replicas"] =
        labels["nvidia.com/gpu.memory"] =
          "0";
    } else {
      Object.assign(labels, migDeviceLabels("nvidia.com/gpu", model, [...profiles][0], instances.length));
    }
  }
  if (!kwok) labels["nvidia.com/gpu.deploy.device-plugin"] = "true";
  return labels;
}
