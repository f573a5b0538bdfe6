/**
 * `nvidia-smi -q [-d <sections>]`: the "NVSMI LOG" report, one block per GPU with its main sections, keys
 * indented four spaces per level and every `:` in column 43. Section contents and order follow the real
 * 535.261.03 output (tests/nvidia_smi/real/q_*.txt); values nobody simulates print `N/A`.
 *
 * @module
 */
import { ctime } from "./format.ts";
import type { SmiGpu, SmiSystem } from "./view.ts";

/** The `-d` section names, in the order the report prints them. */
export const DISPLAY_SECTIONS = [
  "PERFORMANCE",
  "MEMORY",
  "COMPUTE",
  "UTILIZATION",
  "ECC",
  "TEMPERATURE",
  "POWER",
  "CLOCK",
  "PIDS",
] as const;

/** One `-d` section name. */
export type DisplaySection = typeof DISPLAY_SECTIONS[number];

/** A report line: depth, key and value (a heading has none). */
type Entry = [depth: number, key: string, value?: string | number];

const NA = "N/A";

function samples(title: string): Entry[] {
  return [
    [1, title],
    ...["Duration", "Number of Samples", "Max", "Min", "Avg"].map((k): Entry => [2, k, NA]),
  ];
}

function identity(gpu: SmiGpu): Entry[] {
  return [
    [1, "Product Name", gpu.name],
    [1, "Product Brand", "NVIDIA"],
    [1, "Product Architecture", gpu.architecture],
    [1, "Display Mode", "Disabled"],
    [1, "Display Active", "Disabled"],
    [1, "Persistence Mode", "Enabled"],
    [1, "Addressing Mode", "None"],
    [1, "MIG Mode"],
    [2, "Current", gpu.migMode ?? NA],
    [2, "Pending", gpu.migMode ?? NA],
    [1, "Accounting Mode", "Disabled"],
    [1, "Accounting Mode Buffer Size", 4000],
    [1, "Driver Model"],
    [2, "Current", NA],
    [2, "Pending", NA],
    [1, "Serial Number", gpu.serial],
    [1, "GPU UUID", gpu.uuid],
    [1, "Minor Number", gpu.minor],
    [1, "MultiGPU Board", "No"],
    [1, "Board ID", `0x${gpu.pciBusId.slice(9, 11).toLowerCase()}00`],
    [1, "GPU Operation Mode"],
    [2, "Current", "All On"],
    [2, "Pending", "All On"],
    [1, "PCI"],
    [2, "Bus", `0x${gpu.pciBusId.slice(9, 11)}`],
    [2, "Device", `0x${gpu.pciBusId.slice(12, 14)}`],
    [2, "Domain", `0x${gpu.pciBusId.slice(4, 8)}`],
    [2, "Device Id", gpu.pciDeviceId],
    [2, "Bus Id", gpu.pciBusId],
    [1, "Fan Speed", NA],
  ];
}

function section(name: DisplaySection, gpu: SmiGpu, withSamples: boolean): Entry[] {
  const r = gpu.readings;
  const active = (on: boolean) => on ? "Active" : "Not Active";
  const bits = r.clockEventReasons;
  const watts = (w: number) => `${w.toFixed(2)} W`;
  const mhz = (n: number | string) => typeof n === "number" ? `${n} MHz` : n;
  switch (name) {
    case "PERFORMANCE":
      return [
        [1, "Performance State", gpu.pstate],
        [1, "Clocks Event Reasons"],
        [2, "Idle", active((bits & 0x1) !== 0)],
        [2, "Applications Clocks Setting", active(false)],
        [2, "SW Power Cap", active(false)],
        [2, "HW Slowdown", active((bits & 0x40) !== 0)],
        [3, "HW Thermal Slowdown", active((bits & 0x40) !== 0)],
        [3, "HW Power Brake Slowdown", active(false)],
        [2, "Sync Boost", active(false)],
        [2, "SW Thermal Slowdown", active((bits & 0x20) !== 0)],
        [2, "Display Clock Setting", active(false)],
        [1, "Sparse Operation Mode", "Disabled"],
      ];
    case "MEMORY":
      return [
        [1, "FB Memory Usage"],
        [2, "Total", `${gpu.memoryTotalMiB} MiB`],
        [2, "Reserved", `${r.fb.reserved} MiB`],
        [2, "Used", `${r.fb.used} MiB`],
        [2, "Free", `${r.fb.free} MiB`],
        [1, "BAR1 Memory Usage"],
        [2, "Total", NA],
        [2, "Used", NA],
        [2, "Free", NA],
        [1, "Conf Compute Protected Memory Usage"],
        [2, "Total", NA],
        [2, "Used", NA],
        [2, "Free", NA],
      ];
    case "COMPUTE":
      return [[1, "Compute Mode", "Default"]];
    case "UTILIZATION":
      return [
        [1, "Utilization"],
        [2, "Gpu", `${r.gpuUtil} %`],
        [2, "Memory", `${r.memCopyUtil} %`],
        ...["Encoder", "Decoder", "JPEG", "OFA"].map((k): Entry => [2, k, "0 %"]),
        ...(withSamples
          ? ["GPU", "Memory", "ENC", "DEC"].flatMap((k) => samples(`${k} Utilization Samples`))
          : []),
      ];
    case "ECC": {
      const errors = (aggregate: boolean): Entry[] => [
        [2, aggregate ? "Aggregate" : "Volatile"],
        [3, "SRAM Correctable", 0],
        [3, "SRAM Uncorrectable Parity", 0],
        [3, "SRAM Uncorrectable SEC-DED", 0],
        [3, "DRAM Correctable", r.ecc.correctable],
        [3, "DRAM Uncorrectable", r.ecc.uncorrectable],
        ...(aggregate ? [[3, "SRAM Threshold Exceeded", "No"] as Entry] : []),
      ];
      return [
        [1, "ECC Mode"],
        [2, "Current", "Enabled"],
        [2, "Pending", "Enabled"],
        [1, "ECC Errors"],
        ...errors(false),
        ...errors(true),
        [2, "Aggregate Uncorrectable SRAM Sources"],
        ...["L2", "SM", "Microcontroller", "PCIE", "Other"].map((k): Entry => [3, `SRAM ${k}`, 0]),
      ];
    }
    case "TEMPERATURE":
      return [
        [1, "Temperature"],
        [2, "GPU Current Temp", `${r.gpuTempC} C`],
        [2, "GPU T.Limit Temp", `${87 - r.gpuTempC} C`],
        [2, "GPU Shutdown T.Limit Temp", "-5 C"],
        [2, "GPU Slowdown T.Limit Temp", "-2 C"],
        [2, "GPU Max Operating T.Limit Temp", "0 C"],
        [2, "GPU Target Temperature", NA],
        [2, "Memory Current Temp", r.memoryTempC === undefined ? NA : `${r.memoryTempC} C`],
        [2, "Memory Max Operating T.Limit Temp", NA],
      ];
    case "POWER": {
      const readings = (title: string, draw: string, limit: string): Entry[] => [
        [1, title],
        [2, "Power Draw", draw],
        ...["Current", "Requested", "Default", "Min", "Max"].map((
          k,
        ): Entry => [2, `${k} Power Limit`, limit]),
      ];
      return [
        ...readings("GPU Power Readings", watts(r.powerW), watts(gpu.powerLimitW)),
        ...(withSamples ? samples("Power Samples") : []),
        ...readings("Module Power Readings", NA, NA),
      ];
    }
    case "CLOCK":
      return [
        [1, "Clocks"],
        [2, "Graphics", mhz(r.smClockMHz)],
        [2, "SM", mhz(r.smClockMHz)],
        [2, "Memory", mhz(r.memClockMHz)],
        [2, "Video", mhz(r.smClockMHz)],
        [1, "Applications Clocks"],
        [2, "Graphics", mhz(gpu.maxSmClockMHz)],
        [2, "Memory", mhz(r.memClockMHz)],
        [1, "Default Applications Clocks"],
        [2, "Graphics", mhz(gpu.maxSmClockMHz)],
        [2, "Memory", mhz(r.memClockMHz)],
        [1, "Deferred Clocks"],
        [2, "Memory", NA],
        [1, "Max Clocks"],
        [2, "Graphics", mhz(gpu.maxSmClockMHz)],
        [2, "SM", mhz(gpu.maxSmClockMHz)],
        [2, "Memory", mhz(r.memClockMHz)],
        [2, "Video", mhz(gpu.maxSmClockMHz)],
        [1, "Max Customer Boost Clocks"],
        [2, "Graphics", NA],
        ...(withSamples ? [...samples("SM Clock Samples"), ...samples("Memory Clock Samples")] : []),
        [1, "Clock Policy"],
        [2, "Auto Boost", NA],
        [2, "Auto Boost Default", NA],
      ];
    case "PIDS":
      if (gpu.processes.length === 0) return [[1, "Processes", "None"]];
      return [
        [1, "Processes"],
        ...gpu.processes.flatMap((p): Entry[] => [
          [2, "GPU instance ID", p.gpuInstance ?? NA],
          [2, "Compute instance ID", p.computeInstance ?? NA],
          [2, "Process ID", p.pid],
          [3, "Type", p.type],
          [3, "Name", p.name],
          [3, "Used GPU Memory", `${p.usedMiB} MiB`],
        ]),
      ];
  }
}

function line([depth, key, value]: Entry): string {
  const label = `${" ".repeat(depth * 4)}${key}`;
  return value === undefined ? label : `${label.padEnd(42)}: ${value}`;
}

/** The `-q` report of `gpus`; `display` lists the `-d` sections (all main sections when undefined). */
export function renderReport(system: SmiSystem, gpus: SmiGpu[], display?: DisplaySection[]): string {
  const sections = DISPLAY_SECTIONS.filter((s) => !display || display.includes(s));
  const head: Entry[] = [
    [0, "Timestamp", ctime(system.time)],
    [0, "Driver Version", system.driverVersion],
    [0, "CUDA Version", system.cudaVersion],
  ];
  const out = ["", "==============NVSMI LOG==============", "", ...head.map(line), ""];
  out.push(line([0, "Attached GPUs", system.gpus.length]));
  for (const gpu of gpus) {
    const entries = [
      ...(display ? [] : identity(gpu)),
      ...sections.flatMap((s) => section(s, gpu, display !== undefined)),
    ];
    out.push(`GPU ${gpu.pciBusId}`, ...entries.map(line), "");
  }
  return `${out.join("\n")}\n`;
}
