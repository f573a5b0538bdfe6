/**
 * The `MIG devices:` table of nvidia-smi's default output, printed between the GPU blocks and the processes
 * table when a shown GPU has MIG devices (91-character lines, layout 580).
 *
 * From the reference (nvidia-stack.md §6.1): the two header lines and the two lines of each MIG device, with
 * their column widths. Inferred, following the processes and GPU tables of {@link renderTable}: the title
 * box (a line of spaces, a border, ` MIG devices:`), the column borders above the header, the `=` line under
 * it and the column border after each device. Values the simulation does not model print `N/A`: the BAR1
 * usage and the shared engine counts (CE ENC DEC OFA JPG).
 *
 * @module
 */
import type { SmiGpu, SmiMigDevice } from "./view.ts";

/** Width of every line of the table, borders included. */
const WIDTH = 91;
/** Widths of the four columns between the borders. */
const COLUMNS = [18, 34, 11, 23] as const;

function columns(fill: string, edge: string): string {
  return `${edge}${COLUMNS.map((w) => fill.repeat(w)).join("+")}${edge}`;
}

function cells(...texts: string[]): string {
  return `|${texts.join("|")}|`;
}

/** The two lines of one MIG device, shown as `MIG Dev` `dev` of `gpu`. */
function deviceLines(gpu: SmiGpu, mig: SmiMigDevice, dev: number): string[] {
  const { fb, ecc } = mig.readings;
  const engines = ["N/A".padStart(3), ...[4, 5, 5, 5].map((w) => "N/A".padStart(w))].join("");
  return [
    cells(
      ` ${String(gpu.index).padStart(2)}${String(mig.gpuInstance).padStart(5)}` +
        `${String(mig.computeInstance).padStart(4)}${String(dev).padStart(4)}  `,
      `${`${fb.used}MiB / ${fb.total}MiB`.padStart(30)}    `,
      `${String(mig.smCount).padStart(3)}${String(ecc.uncorrectable).padStart(7)} `,
      `${engines} `,
    ),
    cells(" ".repeat(COLUMNS[0]), `${"N/A".padStart(32)}  `, " ".repeat(COLUMNS[2]), " ".repeat(COLUMNS[3])),
  ];
}

/** The MIG devices table of `gpus` (their MIG devices in slot order); no lines when none has MIG devices. */
export function renderMigTable(gpus: SmiGpu[]): string[] {
  const devices = gpus.flatMap((gpu) =>
    (gpu.migDevices ?? []).flatMap((mig, dev) => [...deviceLines(gpu, mig, dev), columns("-", "+")])
  );
  if (devices.length === 0) return [];
  return [
    " ".repeat(WIDTH),
    `+${"-".repeat(WIDTH - 2)}+`,
    `|${" MIG devices:".padEnd(WIDTH - 2)}|`,
    columns("-", "+"),
    "| GPU  GI  CI  MIG |                     Memory-Usage |        Vol|        Shared         |",
    "|      ID  ID  Dev |                       BAR1-Usage | SM     Unc| CE ENC  DEC  OFA  JPG |",
    columns("=", "|"),
    ...devices,
  ];
}
