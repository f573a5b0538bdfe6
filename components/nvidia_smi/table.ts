/**
 * nvidia-smi's default output: the banner, one three-line block per GPU, the MIG devices table (layout 580,
 * see `mig_table.ts`) and the processes table, in the layout of the driver (see {@link SmiLayout}).
 *
 * @module
 */
import { GEOMETRY, type SmiLayout } from "./layout.ts";
import { ctime, cutLeft, cutRight } from "./format.ts";
import { renderMigTable } from "./mig_table.ts";
import type { SmiGpu, SmiProcess, SmiSystem } from "./view.ts";

/** Width of the left column. */
const LEFT = 41;
/** Width of the right column. */
const RIGHT = 22;

function border(width: number, edge = "+"): string {
  return `${edge}${"-".repeat(width - 2)}${edge}`;
}

function row(width: number, text: string): string {
  return `|${text.padEnd(width - 2)}|`;
}

function columns(middle: number, fill = "-", left = "+", right = left): string {
  return `${left}${fill.repeat(LEFT)}+${fill.repeat(middle)}+${fill.repeat(RIGHT)}${right}`;
}

function cells(left: string, middle: string, right: string): string {
  return `|${left}|${middle}|${right}|`;
}

/** The three lines of one GPU. */
function gpuBlock(gpu: SmiGpu, layout: SmiLayout): string[] {
  const { middle } = GEOMETRY[layout];
  const r = gpu.readings;
  const name = cutRight(gpu.name, 30).padEnd(31);
  const bus = `${layout === "535" ? " " : "   "}${gpu.pciBusId} Off `;
  const ecc = `${r.ecc.uncorrectable}`.padStart(RIGHT - 1);
  const power = layout === "535"
    ? `${Math.round(r.powerW)}W / ${gpu.powerLimitW}W`
    : `${Math.round(r.powerW)}W / ${String(gpu.powerLimitW).padStart(4)}W`;
  const total = layout === "535" ? `${gpu.memoryTotalMiB}` : `${gpu.memoryTotalMiB}`.padStart(6);
  const memory = `${r.fb.used}MiB / ${total}MiB`;
  const temp = `${r.gpuTempC}C`;
  const util = `${r.gpuUtil}%`;
  return [
    cells(`${String(gpu.index).padStart(4)}  ${name}On  `, bus, `${ecc} `),
    cells(
      ` N/A${temp.padStart(6)}${gpu.pstate.padStart(6)}${power.padStart(24)} `,
      `${memory.padStart(middle - 1)} `,
      `${util.padStart(8)}${"Default".padStart(13)} `,
    ),
    cells(" ".repeat(LEFT), " ".repeat(middle), `${(gpu.migMode ?? "N/A").padStart(RIGHT - 1)} `),
  ];
}

/** One line of the processes table. */
function processLine(gpu: SmiGpu, p: SmiProcess, layout: SmiLayout): string {
  const g = GEOMETRY[layout];
  const id = (n: number | undefined) => n === undefined ? "N/A" : String(n);
  return row(
    g.width,
    `${String(gpu.index).padStart(5)}${id(p.gpuInstance).padStart(6)}${id(p.computeInstance).padStart(5)}` +
      `${cutRight(String(p.pid), g.pidField - 2).padStart(g.pidField)}${p.type.padStart(7)}   ` +
      `${cutLeft(p.name, g.nameField).padEnd(g.nameField)}${`${p.usedMiB}MiB`.padStart(12)} `,
  );
}

/** nvidia-smi's default output for the GPUs of `system` (all of them, or those `-i` selected). */
export function renderTable(system: SmiSystem, gpus: SmiGpu[], layout: SmiLayout): string {
  const g = GEOMETRY[layout];
  const lines = [
    `${ctime(system.time)}       `,
    border(g.width),
    `| NVIDIA-SMI ${system.smiVersion.padEnd(23)}Driver Version: ${
      system.driverVersion.padEnd(g.driverField)
    }` +
    `CUDA Version: ${system.cudaVersion.padEnd(9)}|`,
    layout === "535" ? columns(g.middle, "-", "|", "+") : columns(g.middle),
    cells(
      " GPU  Name                 Persistence-M ",
      ` Bus-Id${"Disp.A ".padStart(g.middle - 7)}`,
      " Volatile Uncorr. ECC ",
    ),
    cells(
      " Fan  Temp   Perf          Pwr:Usage/Cap ",
      "Memory-Usage ".padStart(g.middle),
      " GPU-Util  Compute M. ",
    ),
    cells(" ".repeat(LEFT), " ".repeat(g.middle), "MIG M. ".padStart(RIGHT)),
    columns(g.middle, "=", "|"),
  ];
  for (const gpu of gpus) lines.push(...gpuBlock(gpu, layout), columns(g.middle));
  if (layout === "580") lines.push(...renderMigTable(gpus));
  const processes = gpus.flatMap((gpu) => gpu.processes.map((p) => processLine(gpu, p, layout)));
  lines.push(
    " ".repeat(g.width),
    border(g.width),
    row(g.width, " Processes:"),
    row(g.width, g.processHeader[0]),
    row(g.width, g.processHeader[1]),
    `|${"=".repeat(g.width - 2)}|`,
    ...(processes.length > 0 ? processes : [row(g.width, "  No running processes found")]),
    border(g.width),
  );
  return `${lines.join("\n")}\n`;
}
