/**
 * The GPU catalogue: real datacenter GPU models as nvidia-smi, NVML, DCGM and GFD report them, and
 * lookup by short key, exact nvidia-smi name or GFD product label.
 *
 * Sources: names, memory, CC, SM counts, PCI device ids, power caps and observed idle/load values come from
 * the reference GPU table (nvidia-stack.md §6.5); MIG profiles from §6.6 and public `nvidia-smi mig -lgip`
 * listings. The reference gives clocks only for the H100 SXM (345/1980 MHz SM, 2619 MHz memory); every other
 * clock is the board's published boost/memory clock, and idle/load power and temperatures are picked inside
 * the observed ranges. Values the reference does not hold at all are marked `// not from a primary source`.
 *
 * MIG memory: lgip lists memory in GiB with two decimals; `memoryMiB` is that value × 1024. Where no listing
 * was available the value is "derived": the H100 80GB ratio of profile memory to total memory applied to the
 * model's total, rounded down to 256 MiB.
 *
 * @module
 */

import type { GpuModel, MigProfile } from "./model.ts";
import type { NodeGpuState } from "./node_state.ts";

/** Longest valid Kubernetes label value. */
const LABEL_VALUE_MAX = 63;

/** A MIG profile row: name, GI profile id, max count, memory MiB, SMs. */
type MigRow = readonly [
  name: string,
  giProfileId: number,
  maxCount: number,
  memoryMiB: number,
  smCount: number,
];

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function migTable(rows: readonly MigRow[]): MigProfile[] {
  return rows.map(([name, giProfileId, maxCount, memoryMiB, smCount]) => ({
    name,
    giProfileId,
    maxCount,
    memoryMiB,
    smCount,
  }));
}

/** A100 80GB (SXM4 and PCIe): counts, SMs, 4g/7g memory from §6.6; 1g/2g/3g memory from observed MIG tables. */
const A100_80GB_MIG: readonly MigRow[] = [
  ["1g.10gb", 19, 7, 9728, 14],
  ["1g.10gb+me", 20, 1, 9728, 14],
  ["1g.20gb", 15, 4, 19968, 14],
  ["2g.20gb", 14, 3, 19968, 28],
  ["3g.40gb", 9, 2, 40192, 42],
  ["4g.40gb", 5, 1, 40192, 56],
  ["7g.80gb", 0, 1, 80896, 98],
];

/** A100 40GB (SXM4 and PCIe): 1g.5gb, 2g.10gb, 3g.20gb from §6.6; the rest follow from the memory slices. */
const A100_40GB_MIG: readonly MigRow[] = [
  ["1g.5gb", 19, 7, 4864, 14],
  ["1g.5gb+me", 20, 1, 4864, 14],
  ["1g.10gb", 15, 4, 9984, 14],
  ["2g.10gb", 14, 3, 9984, 28],
  ["3g.20gb", 9, 2, 20096, 42],
  ["4g.20gb", 5, 1, 20096, 56],
  ["7g.40gb", 0, 1, 40448, 98], // 39.50 GiB; not from a primary source
];

/** Every model fakegpu knows, in catalogue order; deeply frozen, so copy a model before changing it. */
export const GPU_CATALOGUE: readonly GpuModel[] = deepFreeze([
  {
    key: "h100",
    name: "NVIDIA H100 80GB HBM3",
    memoryMiB: 81559,
    architecture: "Hopper",
    family: "hopper",
    computeCapability: { major: 9, minor: 0 },
    smCount: 132,
    pciDeviceId: 0x2330,
    formFactor: "sxm",
    power: { capW: 700, idleW: 70, loadW: 495 },
    temperature: { idleC: 29, loadC: 56, memoryOffsetC: 6 },
    clocks: { smIdleMHz: 345, smMaxMHz: 1980, memoryMHz: 2619 },
    idlePerfState: "P0",
    // Observed lgip (§6.6).
    migProfiles: migTable([
      ["1g.10gb", 19, 7, 9984, 16],
      ["1g.10gb+me", 20, 1, 9984, 16],
      ["1g.20gb", 15, 4, 20096, 26],
      ["2g.20gb", 14, 3, 20096, 32],
      ["3g.40gb", 9, 2, 40448, 60],
      ["4g.40gb", 5, 1, 40448, 64],
      ["7g.80gb", 0, 1, 81152, 132],
    ]),
    gpusPerNode: 8,
  },
  {
    key: "h100-pcie",
    name: "NVIDIA H100 PCIe",
    memoryMiB: 81559,
    architecture: "Hopper",
    family: "hopper",
    computeCapability: { major: 9, minor: 0 },
    smCount: 114,
    pciDeviceId: 0x2331,
    formFactor: "pcie",
    power: { capW: 350, idleW: 47, loadW: 276 },
    temperature: { idleC: 30, loadC: 49, memoryOffsetC: 5 },
    clocks: { smIdleMHz: 345, smMaxMHz: 1755, memoryMHz: 1593 },
    idlePerfState: "P0",
    // Memory as on the SXM5 board (§6.6). SMs: 4g = 62 and 7g = 114 from §6.6; 1g/1g.20gb/2g/3g are the
    // SXM5 counts scaled by 114/132 (not from a primary source).
    migProfiles: migTable([
      ["1g.10gb", 19, 7, 9984, 14],
      ["1g.10gb+me", 20, 1, 9984, 14],
      ["1g.20gb", 15, 4, 20096, 22],
      ["2g.20gb", 14, 3, 20096, 28],
      ["3g.40gb", 9, 2, 40448, 52],
      ["4g.40gb", 5, 1, 40448, 62],
      ["7g.80gb", 0, 1, 81152, 114],
    ]),
    gpusPerNode: 8,
  },
  {
    key: "h100-nvl",
    name: "NVIDIA H100 NVL",
    memoryMiB: 95830,
    architecture: "Hopper",
    family: "hopper",
    computeCapability: { major: 9, minor: 0 },
    smCount: 132,
    pciDeviceId: 0x2321,
    formFactor: "pcie",
    power: { capW: 400, idleW: 70, loadW: 392 },
    temperature: { idleC: 34, loadC: 75, memoryOffsetC: 6 },
    clocks: { smIdleMHz: 345, smMaxMHz: 1785, memoryMHz: 2619 },
    idlePerfState: "P0",
    // Names and counts from §6.6; memory derived; SMs as on the H100 SXM5 (both have 132).
    migProfiles: migTable([
      ["1g.12gb", 19, 7, 11520, 16],
      ["1g.12gb+me", 20, 1, 11520, 16],
      ["1g.24gb", 15, 4, 23552, 26],
      ["2g.24gb", 14, 3, 23552, 32],
      ["3g.47gb", 9, 2, 47360, 60],
      ["4g.47gb", 5, 1, 47360, 64],
      ["7g.94gb", 0, 1, 95232, 132],
    ]),
    gpusPerNode: 8,
  },
  {
    key: "h200",
    name: "NVIDIA H200",
    memoryMiB: 143771,
    architecture: "Hopper",
    family: "hopper",
    computeCapability: { major: 9, minor: 0 },
    smCount: 132,
    pciDeviceId: 0x2335,
    formFactor: "sxm",
    power: { capW: 700, idleW: 95, loadW: 520 },
    temperature: { idleC: 28, loadC: 60, memoryOffsetC: 6 },
    clocks: { smIdleMHz: 345, smMaxMHz: 1980, memoryMHz: 3201 },
    idlePerfState: "P0",
    // Observed lgip (NVIDIA/mig-parted issue 120).
    migProfiles: migTable([
      ["1g.18gb", 19, 7, 16384, 16],
      ["1g.18gb+me", 20, 1, 16384, 16],
      ["1g.35gb", 15, 4, 33024, 26],
      ["2g.35gb", 14, 3, 33024, 32],
      ["3g.71gb", 9, 2, 71168, 60],
      ["4g.71gb", 5, 1, 71168, 64],
      ["7g.141gb", 0, 1, 143104, 132],
    ]),
    gpusPerNode: 8,
  },
  {
    key: "gh200",
    name: "NVIDIA GH200 480GB",
    memoryMiB: 97871,
    architecture: "Hopper",
    family: "hopper",
    computeCapability: { major: 9, minor: 0 },
    smCount: 132,
    pciDeviceId: 0x2342,
    formFactor: "sxm",
    power: { capW: 900, idleW: 80, loadW: 600 }, // loadW: not from a primary source
    temperature: { idleC: 28, loadC: 58, memoryOffsetC: 6 }, // loadC: not from a primary source
    clocks: { smIdleMHz: 345, smMaxMHz: 1980, memoryMHz: 2619 },
    idlePerfState: "P0",
    // The 96GB list of §6.6 (no +me profile listed there); memory derived; SMs as on the H100 SXM5.
    migProfiles: migTable([
      ["1g.12gb", 19, 7, 11776, 16],
      ["1g.24gb", 15, 4, 24064, 26],
      ["2g.24gb", 14, 3, 24064, 32],
      ["3g.48gb", 9, 2, 48384, 60],
      ["4g.48gb", 5, 1, 48384, 64],
      ["7g.96gb", 0, 1, 97280, 132],
    ]),
    gpusPerNode: 1,
    superchip: true,
  },
  {
    key: "b200",
    name: "NVIDIA B200",
    memoryMiB: 183359,
    architecture: "Blackwell",
    family: "blackwell",
    computeCapability: { major: 10, minor: 0 },
    smCount: 148,
    pciDeviceId: 0x2901,
    formFactor: "sxm",
    power: { capW: 1000, idleW: 165, loadW: 800 }, // loadW: not from a primary source
    temperature: { idleC: 29, loadC: 62, memoryOffsetC: 6 }, // loadC: not from a primary source
    clocks: { smIdleMHz: 120, smMaxMHz: 1965, memoryMHz: 3996 }, // not from a primary source
    idlePerfState: "P0",
    // 1g/1g.45gb/2g from observed lgip and MIG tables (gpu-operator PRs 1242/1351, issue 2155);
    // 3g/4g/7g memory and 3g/4g SMs derived (not from a primary source).
    migProfiles: migTable([
      ["1g.23gb", 19, 7, 20992, 18],
      ["1g.23gb+me", 20, 1, 20992, 18],
      ["1g.45gb", 15, 4, 45312, 30],
      ["2g.45gb", 14, 3, 45312, 36],
      ["3g.90gb", 9, 2, 90880, 66],
      ["4g.90gb", 5, 1, 90880, 72],
      ["7g.180gb", 0, 1, 182016, 148],
    ]),
    gpusPerNode: 8,
  },
  {
    key: "gb200",
    // Not in the reference table: name, memory, 1200 W cap and device id 0x2941 as public GB200 tray output
    // shows them (not from a primary source). Upstream's nvml-mock profile says `NVIDIA GB200 NVL`; real
    // nvidia-smi says `NVIDIA GB200`.
    name: "NVIDIA GB200",
    memoryMiB: 189471,
    architecture: "Blackwell",
    family: "blackwell",
    computeCapability: { major: 10, minor: 0 },
    smCount: 152, // not from a primary source
    pciDeviceId: 0x2941,
    formFactor: "sxm",
    power: { capW: 1200, idleW: 180, loadW: 950 }, // not from a primary source
    temperature: { idleC: 30, loadC: 62, memoryOffsetC: 6 }, // not from a primary source
    clocks: { smIdleMHz: 120, smMaxMHz: 2062, memoryMHz: 3996 }, // not from a primary source
    idlePerfState: "P0",
    // Names from §6.6 plus the +me profile seen in lgip (mig-parted issue 227); 1g/1g.47gb/2g memory and SMs
    // observed there; 3g/4g/7g derived (not from a primary source).
    migProfiles: migTable([
      ["1g.23gb", 19, 7, 22528, 18],
      ["1g.23gb+me", 20, 1, 22528, 18],
      ["1g.47gb", 15, 4, 46592, 32],
      ["2g.47gb", 14, 3, 46592, 38],
      ["3g.93gb", 9, 2, 93440, 70],
      ["4g.93gb", 5, 1, 93440, 76],
      ["7g.186gb", 0, 1, 187136, 152],
    ]),
    gpusPerNode: 4,
    superchip: true,
  },
  {
    key: "a100-80gb",
    name: "NVIDIA A100-SXM4-80GB",
    memoryMiB: 81920,
    architecture: "Ampere",
    family: "ampere",
    computeCapability: { major: 8, minor: 0 },
    smCount: 108,
    pciDeviceId: 0x20B2,
    formFactor: "sxm",
    power: { capW: 400, idleW: 64, loadW: 358 },
    temperature: { idleC: 30, loadC: 64, memoryOffsetC: 5 },
    clocks: { smIdleMHz: 210, smMaxMHz: 1410, memoryMHz: 1593 },
    idlePerfState: "P0",
    migProfiles: migTable(A100_80GB_MIG),
    gpusPerNode: 8,
  },
  {
    key: "a100-40gb",
    name: "NVIDIA A100-SXM4-40GB",
    memoryMiB: 40960,
    architecture: "Ampere",
    family: "ampere",
    computeCapability: { major: 8, minor: 0 },
    smCount: 108,
    pciDeviceId: 0x20B0,
    formFactor: "sxm",
    power: { capW: 400, idleW: 52, loadW: 367 },
    temperature: { idleC: 33, loadC: 62, memoryOffsetC: 5 },
    clocks: { smIdleMHz: 210, smMaxMHz: 1410, memoryMHz: 1215 },
    idlePerfState: "P0",
    migProfiles: migTable(A100_40GB_MIG),
    gpusPerNode: 8,
  },
  {
    key: "a100-80gb-pcie",
    name: "NVIDIA A100 80GB PCIe",
    memoryMiB: 81920,
    architecture: "Ampere",
    family: "ampere",
    computeCapability: { major: 8, minor: 0 },
    smCount: 108,
    pciDeviceId: 0x20B5,
    formFactor: "pcie",
    power: { capW: 300, idleW: 80, loadW: 250 }, // loadW: not from a primary source
    temperature: { idleC: 45, loadC: 70, memoryOffsetC: 5 }, // loadC: not from a primary source
    clocks: { smIdleMHz: 210, smMaxMHz: 1410, memoryMHz: 1512 },
    idlePerfState: "P0",
    migProfiles: migTable(A100_80GB_MIG),
    gpusPerNode: 8,
  },
  {
    key: "a100-40gb-pcie",
    name: "NVIDIA A100-PCIE-40GB",
    memoryMiB: 40960,
    architecture: "Ampere",
    family: "ampere",
    computeCapability: { major: 8, minor: 0 },
    smCount: 108,
    pciDeviceId: 0x20F1,
    formFactor: "pcie",
    power: { capW: 250, idleW: 33, loadW: 230 }, // loadW: not from a primary source
    temperature: { idleC: 28, loadC: 65, memoryOffsetC: 5 }, // loadC: not from a primary source
    clocks: { smIdleMHz: 210, smMaxMHz: 1410, memoryMHz: 1215 },
    idlePerfState: "P0",
    migProfiles: migTable(A100_40GB_MIG),
    gpusPerNode: 8,
  },
  {
    key: "a30",
    name: "NVIDIA A30",
    memoryMiB: 24576,
    architecture: "Ampere",
    family: "ampere",
    computeCapability: { major: 8, minor: 0 },
    smCount: 56,
    pciDeviceId: 0x20B7,
    formFactor: "pcie",
    power: { capW: 165, idleW: 32, loadW: 150 }, // loadW: not from a primary source
    temperature: { idleC: 29, loadC: 65, memoryOffsetC: 5 }, // loadC: not from a primary source
    clocks: { smIdleMHz: 210, smMaxMHz: 1440, memoryMHz: 1215 },
    idlePerfState: "P0",
    // Names and counts from §6.6 (4 memory slices, 1/4 of the SMs each). GI profile ids (14/21/5/6/0) and
    // memory (5.81/11.88/23.75 GiB) as the MIG user guide lists them for A30 (not from a primary source).
    migProfiles: migTable([
      ["1g.6gb", 14, 4, 5952, 14],
      ["1g.6gb+me", 21, 1, 5952, 14],
      ["2g.12gb", 5, 2, 12160, 28],
      ["2g.12gb+me", 6, 1, 12160, 28],
      ["4g.24gb", 0, 1, 24320, 56],
    ]),
    gpusPerNode: 4,
  },
  {
    key: "l40s",
    name: "NVIDIA L40S",
    memoryMiB: 46068,
    architecture: "Ada Lovelace",
    family: "ada-lovelace",
    computeCapability: { major: 8, minor: 9 },
    smCount: 142,
    pciDeviceId: 0x26B9,
    formFactor: "pcie",
    power: { capW: 350, idleW: 28, loadW: 180 },
    temperature: { idleC: 30, loadC: 51, memoryOffsetC: 0 },
    clocks: { smIdleMHz: 210, smMaxMHz: 2520, memoryMHz: 9001 },
    idlePerfState: "P8",
    migProfiles: [],
    gpusPerNode: 8,
  },
  {
    key: "l4",
    name: "NVIDIA L4",
    memoryMiB: 23034,
    architecture: "Ada Lovelace",
    family: "ada-lovelace",
    computeCapability: { major: 8, minor: 9 },
    smCount: 58,
    pciDeviceId: 0x27B8,
    formFactor: "pcie",
    power: { capW: 72, idleW: 16, loadW: 55 },
    temperature: { idleC: 38, loadC: 66, memoryOffsetC: 0 },
    clocks: { smIdleMHz: 210, smMaxMHz: 2040, memoryMHz: 6251 },
    idlePerfState: "P8",
    migProfiles: [],
    gpusPerNode: 8,
  },
  {
    key: "a10g",
    name: "NVIDIA A10G",
    memoryMiB: 23028,
    architecture: "Ampere",
    family: "ampere",
    computeCapability: { major: 8, minor: 6 },
    smCount: 80,
    pciDeviceId: 0x2237,
    formFactor: "pcie",
    power: { capW: 300, idleW: 16, loadW: 220 }, // loadW: not from a primary source
    temperature: { idleC: 24, loadC: 60, memoryOffsetC: 0 }, // loadC: not from a primary source
    clocks: { smIdleMHz: 210, smMaxMHz: 1710, memoryMHz: 6251 },
    idlePerfState: "P8",
    migProfiles: [],
    gpusPerNode: 4,
  },
  {
    key: "a10",
    name: "NVIDIA A10",
    memoryMiB: 23028,
    architecture: "Ampere",
    family: "ampere",
    computeCapability: { major: 8, minor: 6 },
    smCount: 72,
    pciDeviceId: 0x2236,
    formFactor: "pcie",
    power: { capW: 150, idleW: 16, loadW: 140 }, // loadW: not from a primary source
    temperature: { idleC: 32, loadC: 65, memoryOffsetC: 0 }, // loadC: not from a primary source
    clocks: { smIdleMHz: 210, smMaxMHz: 1695, memoryMHz: 6251 },
    idlePerfState: "P8",
    migProfiles: [],
    gpusPerNode: 4,
  },
  {
    key: "t4",
    name: "Tesla T4",
    memoryMiB: 15360,
    architecture: "Turing",
    family: "turing",
    computeCapability: { major: 7, minor: 5 },
    smCount: 40,
    pciDeviceId: 0x1EB8,
    formFactor: "pcie",
    power: { capW: 70, idleW: 12, loadW: 65 }, // loadW: not from a primary source
    temperature: { idleC: 29, loadC: 70, memoryOffsetC: 0 }, // loadC: not from a primary source
    clocks: { smIdleMHz: 300, smMaxMHz: 1590, memoryMHz: 5001 },
    idlePerfState: "P8",
    migProfiles: [],
    gpusPerNode: 4,
  },
  {
    key: "v100",
    name: "Tesla V100-SXM2-16GB",
    memoryMiB: 16384,
    architecture: "Volta",
    family: "volta",
    computeCapability: { major: 7, minor: 0 },
    smCount: 80,
    pciDeviceId: 0x1DB1,
    formFactor: "sxm",
    power: { capW: 300, idleW: 34, loadW: 250 }, // loadW: not from a primary source (one sample shows 80 W)
    temperature: { idleC: 32, loadC: 51, memoryOffsetC: 3 },
    clocks: { smIdleMHz: 135, smMaxMHz: 1530, memoryMHz: 877 },
    idlePerfState: "P0",
    migProfiles: [],
    gpusPerNode: 8,
  },
]);

/**
 * Extra short names and product names that resolve to a catalogue model. `a100` means the A100-SXM4-80GB
 * (upstream fake-gpu-operator's `a100` profile is the 40GB board: use `a100-40gb` for that). The product
 * names upstream's nvml-mock profiles use (`NVIDIA T4`, `NVIDIA GB200 NVL`) map to the real boards.
 */
const ALIASES: Readonly<Record<string, string>> = {
  "a100": "a100-80gb",
  "a100-sxm4-80gb": "a100-80gb",
  "a100-sxm4-40gb": "a100-40gb",
  "a100-pcie-40gb": "a100-40gb-pcie",
  "h100-sxm": "h100",
  "h100-80gb": "h100",
  "gh200-480gb": "gh200",
  "v100-sxm2-16gb": "v100",
  "nvidia t4": "t4",
  "nvidia gb200 nvl": "gb200",
};

/** Lowercased key, alias, nvidia-smi name and GFD product → model. */
const LOOKUP: ReadonlyMap<string, GpuModel> = buildLookup();

function buildLookup(): Map<string, GpuModel> {
  const byKey = new Map<string, GpuModel>();
  for (const model of GPU_CATALOGUE) {
    for (const form of [model.key, model.name, sanitiseProductName(model.name)]) {
      byKey.set(form.toLowerCase(), model);
    }
  }
  for (const [alias, key] of Object.entries(ALIASES)) {
    const model = byKey.get(key);
    if (model) {
      byKey.set(alias, model);
      byKey.set(sanitiseProductName(alias).toLowerCase(), model);
    }
  }
  return byKey;
}

/**
 * Finds a catalogue model, case-insensitively, by short key (`h100`, `a100-80gb`, `l40s`, `t4`, `b200`, …),
 * exact nvidia-smi name (`NVIDIA H100 80GB HBM3`) or GFD product label (`NVIDIA-H100-80GB-HBM3`).
 *
 * @param query A key, name or product label; surrounding whitespace is ignored.
 * @returns The model, or `undefined` when nothing matches.
 */
export function findGpuModel(query: string): GpuModel | undefined {
  const wanted = query.trim().toLowerCase();
  return LOOKUP.get(wanted) ?? LOOKUP.get(sanitiseProductName(wanted).toLowerCase());
}

/**
 * A synthetic model for a product the catalogue does not know (for example upstream's default `Tesla-K80`).
 * It keeps the product string as its name and has neutral values: compute capability 0.0 with GFD family
 * `undefined` (GFD writes no compute labels for major 0), PCI device id 0, a PCIe board with no MIG.
 *
 * @param product The product name as the config gives it.
 * @param memoryMiB Memory per GPU in MiB.
 */
export function unknownGpuModel(product: string, memoryMiB: number): GpuModel {
  return {
    key: sanitiseProductName(product).toLowerCase() || "unknown",
    name: product,
    memoryMiB,
    architecture: "Unknown",
    family: "undefined",
    computeCapability: { major: 0, minor: 0 },
    smCount: 80,
    pciDeviceId: 0,
    formFactor: "pcie",
    power: { capW: 300, idleW: 40, loadW: 250 },
    temperature: { idleC: 30, loadC: 65, memoryOffsetC: 0 },
    clocks: { smIdleMHz: 210, smMaxMHz: 1410, memoryMHz: 1215 },
    idlePerfState: "P0",
    migProfiles: [],
  };
}

/**
 * The model of a node state's GPUs, as every role that reads the state computes it (dcgm-exporter,
 * nvidia-smi): the catalogue's, else a synthetic one with the state's memory.
 */
export function stateModel(state: NodeGpuState): GpuModel {
  const found = findGpuModel(state.gpu.model) ?? findGpuModel(state.gpu.product);
  if (!found) return unknownGpuModel(state.gpu.product, state.gpu.memoryMiB);
  return found.memoryMiB === state.gpu.memoryMiB ? found : { ...found, memoryMiB: state.gpu.memoryMiB };
}

/**
 * GFD's product-name sanitising, made safe as a label value: characters outside `[A-Za-z0-9-_. ]` are
 * removed, runs of whitespace become `-` (leading and trailing whitespace is dropped), the result is cut to
 * 63 characters and non-alphanumeric characters are trimmed from both ends.
 *
 * @example `sanitiseProductName("NVIDIA H100 80GB HBM3")` returns `NVIDIA-H100-80GB-HBM3`.
 */
export function sanitiseProductName(name: string): string {
  const gfd = name.replace(/[^A-Za-z0-9\-_. ]/g, "").trim().split(/\s+/).join("-");
  return gfd.slice(0, LABEL_VALUE_MAX).replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
}
