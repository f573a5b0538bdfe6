/**
 * `--query-gpu=<fields>` and `--query-compute-apps=<fields>` with `--format=csv[,noheader][,nounits]`:
 * the header repeats each field's canonical name with its unit in brackets, values are joined with `", "`,
 * a value the GPU does not have prints `[N/A]` (with or without units).
 *
 * @module
 */
import { csvTimestamp } from "./format.ts";
import type { SmiGpu, SmiProcess, SmiSystem } from "./view.ts";

/** A value: text with its unit (undefined: `[N/A]`). */
type Value = string | number | undefined;

/** One queryable field. */
export interface Field<T> {
  /** Canonical name (the header). */
  name: string;
  /** Other names the field answers to. */
  aliases?: string[];
  /** Unit shown in the header and after each value. */
  unit?: string;
  /** The value. */
  value: (item: T, system: SmiSystem) => Value;
}

type GpuField = Field<SmiGpu>;

const watts = (w: number) => w.toFixed(2);
const enabled = (on: boolean) => on ? "Enabled" : "Disabled";

/** Every `--query-gpu` field fakegpu answers. */
export const GPU_FIELDS: readonly GpuField[] = [
  { name: "timestamp", value: (_, s) => csvTimestamp(s.time) },
  { name: "driver_version", value: (_, s) => s.driverVersion },
  { name: "count", value: (_, s) => s.gpus.length },
  { name: "index", value: (g) => g.index },
  { name: "name", aliases: ["gpu_name"], value: (g) => g.name },
  { name: "serial", aliases: ["gpu_serial"], value: (g) => g.serial },
  { name: "uuid", aliases: ["gpu_uuid"], value: (g) => g.uuid },
  { name: "pci.bus_id", aliases: ["gpu_bus_id"], value: (g) => g.pciBusId },
  { name: "pci.domain", value: (g) => `0x${g.pciBusId.slice(4, 8)}` },
  { name: "pci.bus", value: (g) => `0x${g.pciBusId.slice(9, 11)}` },
  { name: "pci.device", value: (g) => `0x${g.pciBusId.slice(12, 14)}` },
  { name: "pci.device_id", value: (g) => g.pciDeviceId },
  { name: "persistence_mode", value: () => "Enabled" },
  { name: "display_mode", value: () => "Disabled" },
  { name: "pstate", value: (g) => g.pstate },
  { name: "fan.speed", unit: "%", value: () => undefined },
  { name: "memory.total", unit: "MiB", value: (g) => g.memoryTotalMiB },
  { name: "memory.reserved", unit: "MiB", value: (g) => g.readings.fb.reserved },
  { name: "memory.used", unit: "MiB", value: (g) => g.readings.fb.used },
  { name: "memory.free", unit: "MiB", value: (g) => g.readings.fb.free },
  { name: "compute_mode", value: () => "Default" },
  { name: "compute_cap", value: (g) => g.computeCap },
  { name: "utilization.gpu", unit: "%", value: (g) => g.readings.gpuUtil },
  { name: "utilization.memory", unit: "%", value: (g) => g.readings.memCopyUtil },
  { name: "temperature.gpu", value: (g) => g.readings.gpuTempC },
  { name: "temperature.memory", value: (g) => g.readings.memoryTempC },
  { name: "power.draw", unit: "W", value: (g) => watts(g.readings.powerW) },
  { name: "power.draw.instant", unit: "W", value: (g) => watts(g.readings.powerW) },
  { name: "power.limit", unit: "W", value: (g) => watts(g.powerLimitW) },
  { name: "enforced.power.limit", unit: "W", value: (g) => watts(g.powerLimitW) },
  { name: "power.default_limit", unit: "W", value: (g) => watts(g.powerLimitW) },
  { name: "power.max_limit", unit: "W", value: (g) => watts(g.powerLimitW) },
  {
    name: "clocks.current.graphics",
    aliases: ["clocks.gr"],
    unit: "MHz",
    value: (g) => g.readings.smClockMHz,
  },
  {
    name: "clocks.current.sm",
    aliases: ["clocks.sm"],
    unit: "MHz",
    value: (g) => g.readings.smClockMHz,
  },
  {
    name: "clocks.current.memory",
    aliases: ["clocks.mem"],
    unit: "MHz",
    value: (g) => g.readings.memClockMHz,
  },
  { name: "clocks.max.graphics", aliases: ["clocks.max.gr"], unit: "MHz", value: (g) => g.maxSmClockMHz },
  { name: "clocks.max.sm", unit: "MHz", value: (g) => g.maxSmClockMHz },
  {
    name: "clocks.max.memory",
    aliases: ["clocks.max.mem"],
    unit: "MHz",
    value: (g) => g.readings.memClockMHz,
  },
  { name: "mig.mode.current", value: (g) => g.migMode },
  { name: "mig.mode.pending", value: (g) => g.migMode },
  { name: "ecc.mode.current", value: () => enabled(true) },
  { name: "ecc.errors.corrected.volatile.total", value: (g) => g.readings.ecc.correctable },
  { name: "ecc.errors.uncorrected.volatile.total", value: (g) => g.readings.ecc.uncorrectable },
];

/** A process with the GPU it runs on. */
export interface GpuProcess {
  /** The GPU. */
  gpu: SmiGpu;
  /** The process. */
  process: SmiProcess;
}

/** Every `--query-compute-apps` field fakegpu answers. */
export const APP_FIELDS: readonly Field<GpuProcess>[] = [
  { name: "timestamp", value: (_, s) => csvTimestamp(s.time) },
  { name: "gpu_name", value: (a) => a.gpu.name },
  { name: "gpu_bus_id", value: (a) => a.gpu.pciBusId },
  { name: "gpu_serial", value: (a) => a.gpu.serial },
  { name: "gpu_uuid", value: (a) => a.gpu.uuid },
  { name: "pid", value: (a) => a.process.pid },
  { name: "process_name", aliases: ["name"], value: (a) => a.process.name },
  { name: "used_gpu_memory", aliases: ["used_memory"], unit: "MiB", value: (a) => a.process.usedMiB },
];

/** How `--format` asked for the CSV. */
export interface CsvFormat {
  /** Print the header line. */
  header: boolean;
  /** Print units after the values. */
  units: boolean;
}

/** Thrown for a field the real tool does not know; the message is the real tool's. */
export class UnknownFieldError extends Error {
  /** Creates the error for `field`. */
  constructor(readonly field: string) {
    super(`Field "${field}" is not a valid field to query.`);
    this.name = "UnknownFieldError";
  }
}

/** Resolves a comma-separated field list; throws {@link UnknownFieldError} naming the first unknown. */
export function resolveFields<T>(list: string, table: readonly Field<T>[]): Field<T>[] {
  return list.split(",").map((raw) => raw.trim()).filter((n) => n !== "").map((name) => {
    const field = table.find((f) => f.name === name || f.aliases?.includes(name));
    if (!field) throw new UnknownFieldError(name);
    return field;
  });
}

/** Parses `csv[,noheader][,nounits]`; undefined for anything else. */
export function parseFormat(text: string): CsvFormat | undefined {
  const [kind, ...mods] = text.split(",").map((m) => m.trim());
  if (kind !== "csv" || mods.some((m) => m !== "noheader" && m !== "nounits")) return undefined;
  return { header: !mods.includes("noheader"), units: !mods.includes("nounits") };
}

/** The CSV of `fields` for every item. */
export function renderCsv<T>(fields: Field<T>[], items: T[], system: SmiSystem, format: CsvFormat): string {
  const lines = format.header
    ? [fields.map((f) => f.unit ? `${f.name} [${f.unit}]` : f.name).join(", ")]
    : [];
  for (const item of items) {
    lines.push(
      fields.map((f) => {
        const value = f.value(item, system);
        if (value === undefined) return "[N/A]";
        return f.unit && format.units ? `${value} ${f.unit}` : String(value);
      }).join(", "),
    );
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/** `-L`: one line per GPU, followed by one line per MIG device (`  MIG <profile>` in 16 columns, index from 0). */
export function renderList(gpus: SmiGpu[]): string {
  return gpus.map((g) =>
    `GPU ${g.index}: ${g.name} (UUID: ${g.uuid})\n` +
    (g.migDevices ?? []).map((m, i) =>
      `  ${`MIG ${m.profile}`.padEnd(16)}Device ${String(i).padStart(2)}: (UUID: ${m.uuid})\n`
    ).join("")
  ).join("");
}
