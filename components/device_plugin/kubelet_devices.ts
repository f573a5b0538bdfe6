/**
 * What the kubelet device plugin (node scope `this-node`) tells the kubelet, as pure functions of the node
 * state: the device list of each resource with health, the preferred allocation, and the Allocate response
 * NVIDIA's plugin gives with the `envvar` device-list strategy.
 *
 * @module
 */
import { GPU_RESOURCE } from "../core/allocation.ts";
import { isGpuHealthy } from "../core/gpu_faults.ts";
import type { NodeGpuState } from "../core/node_state.ts";

/** A device as ListAndWatch sends it. */
export interface KubeletDevice {
  /** Device ID: a GPU UUID for `nvidia.com/gpu`. */
  ID: string;
  /** `Healthy` or `Unhealthy`. */
  health: "Healthy" | "Unhealthy";
}

/** A container's part of an Allocate response. */
export interface ContainerAllocation {
  /** Environment for the container. */
  envs: Record<string, string>;
  /** Mounts for the container. */
  mounts: { container_path: string; host_path: string; read_only: boolean }[];
}

/** Where fakegpu's nvidia-smi appears inside a container that got GPUs. */
export const NVIDIA_SMI_CONTAINER_PATH = "/usr/bin/nvidia-smi";

/** Thrown by {@link allocateContainer} for device IDs the resource does not have. */
export class UnknownDevicesError extends Error {
  /** Names the unknown IDs. */
  constructor(readonly resource: string, readonly ids: string[]) {
    super(`unknown ${resource} device IDs: ${ids.join(", ")}`);
    this.name = "UnknownDevicesError";
  }
}

/** The GPU UUID of a device ID: the ID without a time-slicing replica suffix `::<k>`. */
export function gpuOfDevice(id: string): string {
  return id.replace(/::\d+$/, "");
}

/**
 * The resources the node's device plugin serves and their devices: `nvidia.com/gpu` (one device per GPU, ID =
 * UUID, or with time-slicing `replicas` devices `<uuid>::<k>` per GPU; Unhealthy while a fault makes the GPU
 * unhealthy; absent for a DRA-only pool), and each other resource of the pool with `count` devices
 * `<resource name>-<k>`. No state: nothing to serve.
 */
export function nodeResources(state: NodeGpuState | undefined): Map<string, KubeletDevice[]> {
  const resources = new Map<string, KubeletDevice[]>();
  if (!state) return resources;
  if (state.gpuOffer !== "dra") {
    const replicas = state.replicas ?? 1;
    resources.set(
      GPU_RESOURCE,
      state.devices.flatMap((d) => {
        const health = isGpuHealthy(d.faults) ? "Healthy" : "Unhealthy";
        if (replicas === 1) return [{ ID: d.uuid, health }];
        return Array.from({ length: replicas }, (_, k) => ({ ID: `${d.uuid}::${k}`, health }));
      }),
    );
  }
  for (const [name, count] of Object.entries(state.otherResources)) {
    if (name === GPU_RESOURCE) continue;
    const base = name.slice(name.indexOf("/") + 1);
    resources.set(name, Array.from({ length: count }, (_, k) => ({ ID: `${base}-${k}`, health: "Healthy" })));
  }
  return resources;
}

/** The socket file name of a resource's plugin: NVIDIA's `nvidia-gpu.sock` for `nvidia.com/gpu`. */
export function socketName(resource: string): string {
  const [domain, name] = resource.includes("/") ? resource.split("/", 2) : ["", resource];
  const safe = name.replaceAll(/[^A-Za-z0-9_.-]/g, "_");
  return domain === "nvidia.com"
    ? `nvidia-${safe}.sock`
    : `fakegpu-${domain.replaceAll(".", "_")}-${safe}.sock`;
}

/**
 * The preferred allocation of `size` devices: the must-include devices, then the available devices that keep
 * the whole set tightest in device order (neighbouring GPUs share NVLink switches and NUMA nodes on HGX boards).
 * Time-slicing replicas are spread instead, as NVIDIA's default `distributed` policy does: each next replica
 * comes from the GPU this allocation uses least and that has the most replicas free.
 */
export function preferredAllocation(
  order: readonly string[],
  available: readonly string[],
  mustInclude: readonly string[],
  size: number,
): string[] {
  const position = new Map(order.map((id, i) => [id, i]));
  const rank = (id: string) => position.get(id) ?? Number.MAX_SAFE_INTEGER;
  const chosen = [...new Set(mustInclude)];
  if (order.some((id) => gpuOfDevice(id) !== id)) {
    return distributed(available, chosen, size, rank).sort((a, b) => rank(a) - rank(b));
  }
  const rest = available.filter((id) => !chosen.includes(id)).sort((a, b) => rank(a) - rank(b));
  const extra = Math.max(0, Math.min(size - chosen.length, rest.length));
  let best = rest.slice(0, extra);
  let bestSpan = Number.MAX_SAFE_INTEGER;
  for (let start = 0; start + extra <= rest.length; start++) {
    const window = rest.slice(start, start + extra);
    const ranks = [...chosen, ...window].map(rank);
    const span = ranks.length ? Math.max(...ranks) - Math.min(...ranks) : 0;
    if (span < bestSpan) [best, bestSpan] = [window, span];
  }
  return [...chosen, ...best].sort((a, b) => rank(a) - rank(b));
}

function distributed(
  available: readonly string[],
  chosen: string[],
  size: number,
  rank: (id: string) => number,
): string[] {
  const count = (ids: readonly string[]) => {
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(gpuOfDevice(id), (counts.get(gpuOfDevice(id)) ?? 0) + 1);
    return counts;
  };
  const free = count(available);
  const used = count(chosen);
  const rest = available.filter((id) => !chosen.includes(id));
  while (chosen.length < size && rest.length > 0) {
    const score = (
      id: string,
    ) => [used.get(gpuOfDevice(id)) ?? 0, -(free.get(gpuOfDevice(id)) ?? 0), rank(id)];
    rest.sort((a, b) => {
      const [x, y] = [score(a), score(b)];
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    });
    const next = rest.shift()!;
    chosen.push(next);
    used.set(gpuOfDevice(next), (used.get(gpuOfDevice(next)) ?? 0) + 1);
  }
  return chosen;
}

/**
 * The Allocate response for one container: `NVIDIA_VISIBLE_DEVICES` with the unique GPU UUIDs, replica suffixes
 * removed (for `nvidia.com/gpu`), `NODE_NAME`, and a read-only mount of nvidia-smi when `nvidiaSmiHostPath` is set. Throws
 * {@link UnknownDevicesError} naming IDs the resource does not have.
 */
export function allocateContainer(
  resource: string,
  devices: readonly KubeletDevice[],
  ids: readonly string[],
  node: string,
  nvidiaSmiHostPath?: string,
): ContainerAllocation {
  const known = new Set(devices.map((d) => d.ID));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new UnknownDevicesError(resource, unknown);
  const envs: Record<string, string> = { NODE_NAME: node };
  const mounts: ContainerAllocation["mounts"] = [];
  if (resource === GPU_RESOURCE) {
    envs.NVIDIA_VISIBLE_DEVICES = [...new Set(ids.map(gpuOfDevice))].join(",");
    if (nvidiaSmiHostPath) {
      mounts.push({
        container_path: NVIDIA_SMI_CONTAINER_PATH,
        host_path: nvidiaSmiHostPath,
        read_only: true,
      });
    }
  }
  return { envs, mounts };
}
