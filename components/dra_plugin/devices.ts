/**
 * The devices NVIDIA's DRA driver (`gpu.nvidia.com`) publishes for a node's GPUs, as pure functions: names,
 * attributes and capacity in the driver's exact layout (nvidia-stack.md §5.1), every value taken from the
 * node's state (UUID, bus id, product, memory, versions) and the GPU model it names (architecture, compute
 * capability), so a device is the same GPU that the node state, the labels and the metrics name.
 *
 * Whole GPUs are `type: gpu`, named `gpu-<minor>`. A GPU with MIG devices publishes those instead, as the
 * driver does with static MIG: `type: mig`, named `gpu-<parentMinor>-mig-<profile>-<giProfileId>-<placementStart>`
 * (the profile without dots), with `parentUUID`, `profile`, and capacity `multiprocessors`, `memory` and one
 * `memorySlice<i>` per slice of the placement. The engine counts are left out: no source gives them per profile.
 *
 * @module
 */
import { findGpuModel, unknownGpuModel } from "../core/catalogue.ts";
import { migDraDeviceName } from "../core/mig_layout.ts";
import type { GpuModel } from "../core/model.ts";
import type { NodeGpuDevice, NodeGpuState, NodeMigDevice } from "../core/node_state.ts";

/** Driver name of NVIDIA's DRA driver for GPUs. */
export const DRA_DRIVER = "gpu.nvidia.com";

/** A device attribute as `resource.k8s.io/v1` writes it: exactly one typed value. */
export type DeviceAttribute = { string: string } | { version: string } | { int: number } | { bool: boolean };

/** One device of a ResourceSlice (`resource.k8s.io/v1` Device, the fields the driver sets). */
export interface SliceDevice {
  /** Device name, unique in the pool, e.g. `gpu-0`. */
  name: string;
  /** Attributes; unqualified names belong to the driver's domain. */
  attributes: Record<string, DeviceAttribute>;
  /** Capacity, e.g. `memory: { value: "81559Mi" }`. */
  capacity: Record<string, { value: string }>;
}

/**
 * NVML's brand as go-nvlib names it. Observed on a T4 with driver 580 (nvidia-stack.md §5.1); every board in
 * the catalogue is a datacenter board that the 580 driver reports with the same NVIDIA brand (assumption:
 * no dump of the DRA attribute for the other boards was available).
 */
const BRAND = "Nvidia";

/**
 * A version as a semantic version, as the driver writes its version attributes: numeric parts without
 * leading zeros, padded to three parts (`580.105.08` → `580.105.8`, `13.0` → `13.0.0`).
 *
 * @throws {TypeError} When `version` is not one to three dot-separated numbers.
 */
export function semanticVersion(version: string): string {
  const parts = version.split(".");
  if (parts.length > 3 || !parts.every((p) => /^\d+$/.test(p))) {
    throw new TypeError(`Cannot make a semantic version of "${version}": expected 1 to 3 numbers`);
  }
  return [...parts, "0", "0"].slice(0, 3).map((p) => String(Number(p))).join(".");
}

/**
 * The PCI address as the kernel (and the `resource.kubernetes.io/pciBusID` attribute) writes it: lowercase
 * with a 4-digit domain (`00000000:18:00.0` → `0000:18:00.0`).
 *
 * @throws {TypeError} When `nvmlBusId` is not in NVML's `%08X:%02X:%02X.%X` form.
 */
export function kernelPciAddress(nvmlBusId: string): string {
  const match = /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})\.([0-7])$/.exec(nvmlBusId);
  if (!match) throw new TypeError(`Cannot read PCI bus id "${nvmlBusId}": expected DDDDDDDD:BB:DD.F`);
  const [, domain, bus, device, fn] = match;
  const domain4 = parseInt(domain, 16).toString(16).padStart(4, "0");
  return `${domain4}:${bus}:${device}.${fn}`.toLowerCase();
}

const BINARY_SUFFIXES = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/**
 * A quantity of MiB in Kubernetes' canonical binary-SI form, the form the API server stores, so a written
 * value reads back unchanged: the largest suffix that keeps the number whole (`81559` → `81559Mi`,
 * `81920` → `80Gi`).
 */
export function mebibyteQuantity(mib: number): string {
  let value = mib;
  let suffix = 1;
  while (value > 0 && value % 1024 === 0 && suffix < BINARY_SUFFIXES.length - 1) {
    value /= 1024;
    suffix++;
  }
  return `${value}${BINARY_SUFFIXES[suffix]}`;
}

/** The GPU model of a node state: the catalogue model it names, or a neutral one for an unknown product. */
export function stateGpuModel(state: NodeGpuState): GpuModel {
  return findGpuModel(state.gpu.model) ?? unknownGpuModel(state.gpu.product, state.gpu.memoryMiB);
}

/** The attributes a GPU and its MIG devices share. */
function commonAttributes(
  state: NodeGpuState,
  model: GpuModel,
  gpu: NodeGpuDevice,
): Record<string, DeviceAttribute> {
  const { major, minor } = model.computeCapability;
  const attributes: Record<string, DeviceAttribute> = {
    productName: { string: state.gpu.product },
    brand: { string: BRAND },
    architecture: { string: model.architecture },
    cudaComputeCapability: { version: `${major}.${minor}.0` },
    driverVersion: { version: semanticVersion(state.gpu.driverVersion) },
    cudaDriverVersion: { version: semanticVersion(state.gpu.cudaVersion) },
    "resource.kubernetes.io/pciBusID": { string: kernelPciAddress(gpu.pciBusId) },
  };
  // Grace superchips address GPU memory through ATS; other boards report no addressing mode.
  if (model.superchip) attributes.addressingMode = { string: "ATS" };
  return attributes;
}

function gpuDevice(state: NodeGpuState, model: GpuModel, gpu: NodeGpuDevice): SliceDevice {
  return {
    name: `gpu-${gpu.index}`,
    attributes: {
      type: { string: "gpu" },
      uuid: { string: gpu.uuid },
      ...commonAttributes(state, model, gpu),
    },
    capacity: { memory: { value: mebibyteQuantity(state.gpu.memoryMiB) } },
  };
}

function migDevice(
  state: NodeGpuState,
  model: GpuModel,
  gpu: NodeGpuDevice,
  mig: NodeMigDevice,
): SliceDevice {
  const profile = model.migProfiles.find((p) => p.name === mig.profile);
  const slices = Array.from({ length: mig.placementSize }, (_, i) => mig.placementStart + i);
  return {
    name: migDraDeviceName(model, gpu.index, mig),
    attributes: {
      type: { string: "mig" },
      uuid: { string: mig.uuid },
      parentUUID: { string: gpu.uuid },
      profile: { string: mig.profile },
      ...commonAttributes(state, model, gpu),
    },
    capacity: {
      multiprocessors: { value: String(profile?.smCount ?? 0) },
      memory: { value: mebibyteQuantity(profile?.memoryMiB ?? 0) },
      ...Object.fromEntries(slices.map((i) => [`memorySlice${i}`, { value: "1" }])),
    },
  };
}

/**
 * The devices of a node's pool, in index order (a MIG GPU's MIG devices in slot order).
 *
 * @throws {TypeError} When the state holds a version or bus id the driver could not have published.
 */
export function sliceDevices(state: NodeGpuState): SliceDevice[] {
  const model = stateGpuModel(state);
  return [...state.devices].sort((a, b) => a.index - b.index).flatMap((gpu) =>
    gpu.mig?.length ? gpu.mig.map((mig) => migDevice(state, model, gpu, mig)) : [gpuDevice(state, model, gpu)]
  );
}
