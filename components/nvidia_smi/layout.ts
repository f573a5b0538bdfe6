/**
 * The two nvidia-smi layouts fakegpu prints, chosen by the driver version the pool claims: `580` (drivers
 * 580 and later, the default; from real 580 output in nvidia-stack.md §6.1) and `535` (older drivers;
 * checked byte for byte against the real nvidia-smi 535.261.03, see tests/nvidia_smi/real/). Drivers
 * 550–575 print small variants of these that fakegpu does not model; they get the 535 layout. What the
 * reference does not show of the 580 layout (trailing spaces after the time, the blank line before the
 * processes table being a line of spaces, cutting long PIDs and names) is taken from 535.
 *
 * @module
 */

/** A driver layout of nvidia-smi's default table. */
export type SmiLayout = "535" | "580";

/** The layout of nvidia-smi for a driver version such as `580.105.08`. */
export function layoutFor(driverVersion: string): SmiLayout {
  const major = Number.parseInt(driverVersion, 10);
  return Number.isFinite(major) && major < 580 ? "535" : "580";
}

/** Column widths of a layout's default table. */
export interface TableGeometry {
  /** Width of every table line, borders included. */
  width: number;
  /** Width of the middle column (`Bus-Id`, `Memory-Usage`). */
  middle: number;
  /** Width of the driver version in the banner, trailing spaces included. */
  driverField: number;
  /** Width of the PID column of the processes table. */
  pidField: number;
  /** Width of the process name column. */
  nameField: number;
  /** The processes table's two header lines (between the borders). */
  processHeader: [string, string];
}

/** The geometry of each layout. */
export const GEOMETRY: Record<SmiLayout, TableGeometry> = {
  "535": {
    width: 89,
    middle: 22,
    driverField: 13,
    pidField: 10,
    nameField: 38,
    processHeader: [
      "  GPU   GI   CI        PID   Type   Process name                            GPU Memory ",
      "        ID   ID                                                             Usage      ",
    ],
  },
  "580": {
    width: 91,
    middle: 24,
    driverField: 15,
    pidField: 16,
    nameField: 34,
    processHeader: [
      "  GPU   GI   CI              PID   Type   Process name                        GPU Memory ",
      "        ID   ID                                                               Usage      ",
    ],
  },
};
