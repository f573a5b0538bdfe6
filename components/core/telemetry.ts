/**
 * Simulated GPU telemetry: every value a monitoring tool reads from a GPU (utilization, clocks, power,
 * temperatures, energy, framebuffer, errors, profiling ratios) as a pure function of the GPU's identity,
 * its model, its holders, its faults and the time. Two exporter replicas, two scrapes at the same instant
 * and nvidia-smi therefore agree without talking to each other.
 *
 * The activity of a held GPU moves smoothly inside its holders' combined utilization range along two sine waves
 * whose phases come from the GPU's UUID; everything else follows from that activity inside the model's
 * idle/load envelope. The energy counter is the closed-form integral of the power.
 *
 * @module
 */
import type { GpuModel } from "./model.ts";
import type { GpuHolder, NodeGpuDevice, UtilizationRange } from "./node_state.ts";
import { isGpuHealthy } from "./gpu_faults.ts";

/** Utilization (percent) of a held GPU whose pod names none, as fake-gpu-operator does. */
export const DEFAULT_HELD_UTILIZATION = { min: 100, max: 100 } as const;
/** Share of the usable framebuffer a held GPU uses when its pod names no memory use. */
export const DEFAULT_HELD_MEMORY_SHARE = 0.5;
/** Share of the total framebuffer the driver reserves (H100: 538 of 81559 MiB, as observed 454–551). */
const RESERVED_SHARE = 0.0066;
/** Seconds since the Unix epoch of the simulated GPUs' boot: the energy counter counts from here. */
export const SIMULATED_BOOT_EPOCH_S = Date.UTC(2026, 0, 1) / 1000;
/** Temperature from which a thermal excursion throttles the clocks. */
const THROTTLE_TEMPERATURE_C = 85;

/** Periods (s) and weights of the two waves an activity signal is made of. */
const WAVES = [{ period: 240, weight: 0.3 }, { period: 37, weight: 0.2 }] as const;

/** NVML clock-event reason bits (nvmlClocksEventReason*). */
const CLOCK_EVENT = { gpuIdle: 0x1, swThermal: 0x20, hwThermal: 0x40 } as const;

/** Everything the simulation reports for one GPU at one instant. */
export interface GpuReadings {
  /** GPU utilization, percent. */
  gpuUtil: number;
  /** Memory copy utilization, percent. */
  memCopyUtil: number;
  /** SM clock, MHz. */
  smClockMHz: number;
  /** Memory clock, MHz. */
  memClockMHz: number;
  /** GPU temperature, °C. */
  gpuTempC: number;
  /** Memory temperature, °C; undefined on boards without an HBM sensor (DCGM reports blank there). */
  memoryTempC?: number;
  /** Power draw, W. */
  powerW: number;
  /** Energy since boot, mJ (monotonic). */
  energyMJ: number;
  /** Framebuffer total, used, free and reserved, MiB (used + free + reserved = total). */
  fb: { total: number; used: number; free: number; reserved: number };
  /** Last XID error, 0 for none. */
  xid: number;
  /** ECC error counts since boot. */
  ecc: { correctable: number; uncorrectable: number };
  /** Retired pages (pre-Ampere boards; Ampere and later remap rows instead). */
  retiredPages: { sbe: number; dbe: number; pending: number };
  /** Remapped rows and whether remapping failed (Ampere and later). */
  remappedRows: { correctable: number; uncorrectable: number; failed: boolean };
  /** Cumulative NVLink traffic counter; undefined on boards without NVLink. */
  nvlinkBandwidthTotal?: number;
  /** Throttling time by cause since the fault began, ns. */
  violationNs: { thermal: number };
  /** NVML clock-event reasons bit mask. */
  clockEventReasons: number;
  /** DCGM profiling ratios (0..1) and PCIe rates (bytes/s). */
  prof: {
    grEngineActive: number;
    smActive: number;
    smOccupancy: number;
    tensorActive: number;
    dramActive: number;
    fp64Active: number;
    fp32Active: number;
    fp16Active: number;
    pcieTxBytes: number;
    pcieRxBytes: number;
  };
  /** Whether the device plugin would report the GPU healthy. */
  healthy: boolean;
}

/** FNV-1a hash of a string, 32 bits. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Wave phases of a GPU, from its UUID. */
function phases(uuid: string): [number, number] {
  const h = hash32(uuid);
  return [((h & 0xffff) / 0x10000) * 2 * Math.PI, ((h >>> 16) / 0x10000) * 2 * Math.PI];
}

/** The GPU's activity signal at time `t` (s), in [0, 1]. */
export function activitySignal(uuid: string, t: number): number {
  const [p0, p1] = phases(uuid);
  return 0.5 + WAVES[0].weight * Math.sin((2 * Math.PI * t) / WAVES[0].period + p0) +
    WAVES[1].weight * Math.sin((2 * Math.PI * t) / WAVES[1].period + p1);
}

/** ∫ (activitySignal − 0.5) dt from `a` to `b` (closed form). */
function signalDeviationIntegral(uuid: string, a: number, b: number): number {
  const ps = phases(uuid);
  let sum = 0;
  WAVES.forEach(({ period, weight }, i) => {
    const w = (2 * Math.PI) / period;
    sum += (weight / w) * (Math.cos(w * a + ps[i]) - Math.cos(w * b + ps[i]));
  });
  return sum;
}

/**
 * The utilization range (percent) a GPU's holders make together: each holder's range (its annotation, else the
 * default) scaled by its share, added up and capped at 100. Undefined for a free GPU.
 */
export function loadRange(holders: readonly GpuHolder[] | undefined): UtilizationRange | undefined {
  if (!holders?.length) return undefined;
  let min = 0;
  let max = 0;
  for (const holder of holders) {
    const range = holder.utilization ?? DEFAULT_HELD_UTILIZATION;
    min += range.min * (holder.share ?? 1);
    max += range.max * (holder.share ?? 1);
  }
  return { min: Math.min(100, min), max: Math.min(100, max) };
}

/** Utilization (percent, not rounded) of a GPU at time `t`: inside its holders' load range, 0 when free. */
export function utilizationAt(uuid: string, holders: readonly GpuHolder[] | undefined, t: number): number {
  const range = loadRange(holders);
  if (!range) return 0;
  return range.min + (range.max - range.min) * activitySignal(uuid, t);
}

/** Seconds since the epoch of an RFC 3339 time, or `fallback` when absent or invalid. */
function epochSeconds(time: string | undefined, fallback: number): number {
  const ms = time === undefined ? NaN : Date.parse(time);
  return Number.isFinite(ms) ? ms / 1000 : fallback;
}

/**
 * Energy in joules the current holders of a GPU made it draw above idle since their load began (the latest of
 * their `since` and the device's `loadSince`) until time `t`: the integral of
 * `(loadW − idleW) × utilization / 100`. 0 for a free GPU.
 */
export function loadBusyEnergyJ(
  model: GpuModel,
  device: Pick<NodeGpuDevice, "uuid" | "holders" | "loadSince">,
  t: number,
): number {
  const range = loadRange(device.holders);
  if (!range) return 0;
  const starts = [device.loadSince, ...device.holders!.map((h) => h.since)];
  const latest = Math.max(...starts.map((s) => epochSeconds(s, -Infinity)));
  const since = latest === -Infinity ? t : Math.min(latest, t);
  const { min, max } = range;
  const utilSeconds = ((min + max) / 2) * (t - since) +
    (max - min) * signalDeviationIntegral(device.uuid, since, t);
  return ((model.power.loadW - model.power.idleW) * utilSeconds) / 100;
}

/**
 * Framebuffer each holder of a GPU uses, MiB, in holder order: its recorded use, else its share (an equal part
 * when it has none) of the default held use.
 */
export function holderMemoryMiB(model: GpuModel, holders: readonly GpuHolder[] | undefined): number[] {
  const usable = model.memoryMiB - reservedMiB(model);
  return (holders ?? []).map((h) =>
    h.memoryUsedMiB ?? Math.round(usable * DEFAULT_HELD_MEMORY_SHARE * (h.share ?? 1 / holders!.length))
  );
}

/** Framebuffer the driver reserves on a GPU of this model, MiB. */
export function reservedMiB(model: GpuModel): number {
  return Math.round(model.memoryMiB * RESERVED_SHARE);
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}

/** Whether the model's architecture remaps rows (Ampere and later) instead of retiring pages. */
function remapsRows(model: GpuModel): boolean {
  return model.computeCapability.major >= 8;
}

/**
 * The readings of a GPU at time `t` (seconds since the epoch). Undefined for a GPU that has fallen off the
 * bus: like a lost GPU it reports nothing.
 */
export function gpuReadings(model: GpuModel, device: NodeGpuDevice, t: number): GpuReadings | undefined {
  const fault = device.faults ?? {};
  if (fault.fallenOffBus) return undefined;
  const { holders, uuid } = device;
  const held = (holders?.length ?? 0) > 0;
  const util = utilizationAt(uuid, holders, t);
  const load = util / 100;
  const signal = activitySignal(uuid, t);
  const { power, temperature, clocks } = model;

  const jitterW = power.idleW * 0.03;
  const powerW = power.idleW + (power.loadW - power.idleW) * load + jitterW * (signal - 0.5);
  const busyJ = (device.busyEnergyJ ?? 0) + loadBusyEnergyJ(model, device, t);
  const energyJ = power.idleW * (t - SIMULATED_BOOT_EPOCH_S) +
    jitterW * signalDeviationIntegral(uuid, SIMULATED_BOOT_EPOCH_S, t) + busyJ;

  const naturalTemp = temperature.idleC + (temperature.loadC - temperature.idleC) * load + (signal - 0.5) * 2;
  const gpuTempC = Math.round(fault.temperatureC ?? naturalTemp);
  const throttled = gpuTempC >= THROTTLE_TEMPERATURE_C;
  const boost = clocks.smIdleMHz + (clocks.smMaxMHz - clocks.smIdleMHz) * clamp(load * 2, 0, 1);
  const smClockMHz = Math.round(throttled ? Math.max(clocks.smIdleMHz, boost * 0.6) : boost);

  const total = model.memoryMiB;
  const reserved = reservedMiB(model);
  const usable = total - reserved;
  const heldUse = holderMemoryMiB(model, holders).reduce((sum, mib) => sum + mib, 0);
  const used = clamp(
    fault.memoryUsedPercent === undefined ? heldUse : Math.round((usable * fault.memoryUsedPercent) / 100),
    0,
    usable,
  );

  const smActive = load * 0.92;
  const dramActive = clamp(load * 0.45 + (held ? 0.05 * signal : 0), 0, 1);
  const correctable = fault.eccErrors?.correctable ?? 0;
  const uncorrectable = fault.eccErrors?.uncorrectable ?? 0;
  const rows = remapsRows(model);
  const faultSeconds = Math.max(0, t - epochSeconds(device.faultsSince, t));
  const pcieRate = load * 2.5e9 * (0.8 + 0.4 * signal);

  return {
    gpuUtil: Math.round(util),
    memCopyUtil: Math.round(dramActive * 100),
    smClockMHz,
    memClockMHz: clocks.memoryMHz,
    gpuTempC,
    memoryTempC: temperature.memoryOffsetC > 0 ? gpuTempC + temperature.memoryOffsetC : undefined,
    powerW,
    energyMJ: Math.floor(energyJ * 1000),
    fb: { total, used, free: usable - used, reserved },
    xid: fault.xid ?? 0,
    ecc: { correctable, uncorrectable },
    retiredPages: rows
      ? { sbe: 0, dbe: 0, pending: 0 }
      : { sbe: correctable, dbe: uncorrectable, pending: 0 },
    remappedRows: rows
      ? { correctable, uncorrectable, failed: fault.rowRemapFailure ?? false }
      : { correctable: 0, uncorrectable: 0, failed: false },
    nvlinkBandwidthTotal: model.formFactor === "sxm" ? Math.floor(busyJ * 1e6) : undefined,
    violationNs: { thermal: throttled ? Math.floor(faultSeconds * 1e9) : 0 },
    clockEventReasons: (held ? 0 : CLOCK_EVENT.gpuIdle) |
      (throttled ? CLOCK_EVENT.swThermal | CLOCK_EVENT.hwThermal : 0),
    prof: {
      grEngineActive: load,
      smActive,
      smOccupancy: smActive * 0.5,
      tensorActive: smActive * 0.6,
      dramActive,
      fp64Active: smActive * 0.05,
      fp32Active: smActive * 0.3,
      fp16Active: smActive * 0.2,
      pcieTxBytes: Math.round(pcieRate),
      pcieRxBytes: Math.round(pcieRate * 1.3),
    },
    healthy: isGpuHealthy(device.faults),
  };
}
