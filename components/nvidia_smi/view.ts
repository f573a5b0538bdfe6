/**
 * What nvidia-smi shows about the GPUs of a node at one instant, computed from the node state with the
 * same telemetry dcgm-exporter uses (`gpuReadings`), so both show one GPU. Every output format renders
 * these views; none reads the state itself.
 *
 * @module
 */
import { stateModel } from "../core/catalogue.ts";
import type { GpuModel } from "../core/model.ts";
import type { GpuHolder, NodeGpuDevice, NodeGpuState } from "../core/node_state.ts";
import { migInstanceDevice, migInstanceModel, migProfile } from "../core/mig_readings.ts";
import { type GpuReadings, gpuReadings, hash32, holderMemoryMiB } from "../core/telemetry.ts";

/** One process in the processes table. */
export interface SmiProcess {
  /** GPU instance id; undefined (`N/A`) unless the process runs on a MIG device. */
  gpuInstance?: number;
  /** Compute instance id; undefined (`N/A`) unless the process runs on a MIG device. */
  computeInstance?: number;
  /** Process id. */
  pid: number;
  /** `C` (compute), `G` (graphics), `C+G`, or with `M+` for MPS. */
  type: string;
  /** Process name. */
  name: string;
  /** Framebuffer the process uses, MiB. */
  usedMiB: number;
}

/** One GPU as nvidia-smi shows it. */
export interface SmiGpu {
  /** Index as the caller sees it (visible GPUs are numbered from 0 inside a container). */
  index: number;
  /** Minor number: the GPU's index on the node (`/dev/nvidia<minor>`). */
  minor: number;
  /** Product name, e.g. `NVIDIA H100 80GB HBM3`. */
  name: string;
  /** `GPU-…` UUID. */
  uuid: string;
  /** `%08X:%02X:%02X.0` bus id. */
  pciBusId: string;
  /** Board serial number. */
  serial: string;
  /** Architecture as `-q` prints it. */
  architecture: string;
  /** Compute capability, e.g. `9.0`. */
  computeCap: string;
  /** PCI device id with NVIDIA's vendor id, e.g. `0x233010DE`. */
  pciDeviceId: string;
  /** Performance state, e.g. `P0`. */
  pstate: string;
  /** MIG mode: `Disabled`, `Enabled`, or undefined (`N/A`) on boards without MIG. */
  migMode?: "Disabled" | "Enabled";
  /** Enforced power limit, W. */
  powerLimitW: number;
  /** Highest SM clock, MHz. */
  maxSmClockMHz: number;
  /** Framebuffer total, MiB. */
  memoryTotalMiB: number;
  /** The readings at the instant. */
  readings: GpuReadings;
  /** Processes on the GPU. */
  processes: SmiProcess[];
  /** The GPU's MIG devices in slot order (the `MIG Dev` index); absent or empty when MIG is off. */
  migDevices?: SmiMigDevice[];
}

/** One MIG device of a GPU as nvidia-smi shows it. */
export interface SmiMigDevice {
  /** Profile name, e.g. `3g.40gb`. */
  profile: string;
  /** `MIG-…` UUID. */
  uuid: string;
  /** GPU instance id (the node state's). */
  gpuInstance: number;
  /** Compute instance id: 0, one compute instance spanning the GPU instance. */
  computeInstance: number;
  /** Streaming multiprocessors of the profile. */
  smCount: number;
  /** The instance's readings (its framebuffer is the profile's memory). */
  readings: GpuReadings;
}

/** What nvidia-smi knows about the machine at one instant. */
export interface SmiSystem {
  /** The instant, as a Date. */
  time: Date;
  /** Version of the nvidia-smi tool (the driver's). */
  smiVersion: string;
  /** Driver version. */
  driverVersion: string;
  /** CUDA version the driver supports. */
  cudaVersion: string;
  /** Every GPU visible to the caller (`Attached GPUs`, `count`), by index. */
  gpus: SmiGpu[];
  /** Bus ids of the visible GPUs that have fallen off the bus: NVML cannot open them, so no view shows them. */
  lost: string[];
}

/** A stable host PID for a holder's container (Linux PIDs stay below 2^22). */
function holderPid(holder: GpuHolder): number {
  return 1000 + (hash32(`${holder.podUid}/${holder.container}`) % 4_000_000);
}

/** The process of the pod holding a MIG device: its container, using the instance's used framebuffer. */
function migProcess(holder: GpuHolder | undefined, m: SmiMigDevice): SmiProcess[] {
  if (!holder) return [];
  const ids = { gpuInstance: m.gpuInstance, computeInstance: m.computeInstance };
  return [{ ...ids, pid: holderPid(holder), type: "C", name: holder.container, usedMiB: m.readings.fb.used }];
}

/**
 * The processes of the pods holding a whole GPU, one per holder: its container with its own framebuffer use (a
 * single holder shows all of the used framebuffer, also when a fault sets it).
 */
function gpuProcesses(model: GpuModel, device: NodeGpuDevice, readings: GpuReadings): SmiProcess[] {
  const holders = device.holders ?? [];
  const own = holderMemoryMiB(model, holders);
  return holders.map((holder, i) => ({
    pid: holderPid(holder),
    type: "C",
    name: holder.container,
    usedMiB: holders.length === 1 ? readings.fb.used : own[i],
  }));
}

/** The views of a GPU's MIG devices at time `t`; those whose readings are missing are left out. */
function migViews(
  model: GpuModel,
  device: NodeGpuDevice,
  t: number,
): (SmiMigDevice & { holder?: GpuHolder })[] {
  return (device.mig ?? []).flatMap((instance) => {
    const readings = gpuReadings(migInstanceModel(model, instance), migInstanceDevice(device, instance), t);
    if (!readings) return [];
    const { profile, uuid, giId, holder } = instance;
    const smCount = migProfile(model, profile)?.smCount ?? 0;
    return [{ profile, uuid, gpuInstance: giId, computeInstance: 0, smCount, readings, holder }];
  });
}

/** Hex with a fixed number of upper-case digits. */
function hex(value: number, digits: number): string {
  return `0x${value.toString(16).toUpperCase().padStart(digits, "0")}`;
}

/**
 * The view of one GPU of `model` at time `t` (seconds), shown as index `index`; undefined for a GPU that
 * has fallen off the bus.
 */
export function gpuView(
  model: GpuModel,
  device: NodeGpuDevice,
  index: number,
  t: number,
): SmiGpu | undefined {
  const readings = gpuReadings(model, device, t);
  if (!readings) return undefined;
  const mig = migViews(model, device, t);
  return {
    index,
    minor: device.index,
    name: model.name,
    uuid: device.uuid,
    pciBusId: device.pciBusId,
    serial: device.serial,
    architecture: model.architecture,
    computeCap: `${model.computeCapability.major}.${model.computeCapability.minor}`,
    pciDeviceId: `${hex(model.pciDeviceId, 4)}10DE`,
    pstate: readings.gpuUtil > 0 ? "P0" : model.idlePerfState,
    migMode: model.migProfiles.length > 0 ? (device.mig?.length ? "Enabled" : "Disabled") : undefined,
    powerLimitW: model.power.capW,
    maxSmClockMHz: model.clocks.smMaxMHz,
    memoryTotalMiB: model.memoryMiB,
    readings,
    processes: mig.length > 0
      ? mig.flatMap(({ holder, ...m }) => migProcess(holder, m))
      : gpuProcesses(model, device, readings),
    migDevices: mig.map(({ holder: _holder, ...m }) => m),
  };
}

/** The system view of `devices` (the visible GPUs of `state`, in order) at `time`. */
export function systemView(state: NodeGpuState, devices: NodeGpuDevice[], time: Date): SmiSystem {
  const model = stateModel(state);
  const t = time.getTime() / 1000;
  const views = devices.map((d, i) => gpuView(model, d, i, t));
  return {
    time,
    smiVersion: state.gpu.driverVersion,
    driverVersion: state.gpu.driverVersion,
    cudaVersion: state.gpu.cudaVersion,
    gpus: views.filter((v) => v !== undefined),
    lost: devices.filter((_, i) => !views[i]).map((d) => d.pciBusId),
  };
}
