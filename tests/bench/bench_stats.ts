/**
 * Measurements the benchmarks share: a process's peak RSS and CPU seconds, the control plane's CPU seconds,
 * requests per node from the API server's request counters, and percentiles.
 *
 * @module
 */
import { readComponentPids } from "../../components/local_fleet/control_plane.ts";

/** Peak RSS and CPU seconds (user + system) of a process. */
export interface ProcStats {
  /** Peak resident set size (`VmHWM`) in MiB. */
  peakRssMiB: number;
  /**
   * Resident file pages now (`RssFile`) in MiB: for a role, mostly the Deno executable's code, shared by every
   * role on the machine.
   */
  fileRssMiB: number;
  /** CPU seconds spent so far. */
  cpuSeconds: number;
}

/** Reads {@link ProcStats} of a live process from /proc. */
export async function procStats(pid: number): Promise<ProcStats> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    peakRssMiB: kib("VmHWM") / 1024,
    fileRssMiB: kib("RssFile") / 1024,
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100,
  };
}

/** CPU seconds spent so far by every component of the control plane (etcd, apiserver, kcm, scheduler, kwok). */
export async function controlPlaneCpuSeconds(clusterDir: string): Promise<number> {
  let total = 0;
  for (const pid of await readComponentPids(clusterDir)) {
    total += await procStats(pid).then((s) => s.cpuSeconds, () => 0);
  }
  return total;
}

/** The value at percentile `p` (0-100) of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p / 100 * sorted.length))];
}

/**
 * The requests made between two {@link apiRequestCounts} readings, per node, for the resources a GPU fleet
 * touches (nodes, configmaps, pods, leases, events, resourceslices), largest first: `PATCH nodes/status 1.02`.
 */
export function requestsPerNode(
  before: Map<string, number>,
  after: Map<string, number>,
  nodes: number,
): string[] {
  const watched = /^\S+ (nodes|configmaps|pods|leases|events|resourceslices|resourceclaims)(\/|$)/;
  return [...after].map(([key, count]) => [key, (count - (before.get(key) ?? 0)) / nodes] as const)
    .filter(([key, perNode]) => watched.test(key) && perNode >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([key, perNode]) => `${key} ${perNode.toFixed(2)}`);
}
