/**
 * The fakegpu executable: `fakegpu <role> [flags]`. One binary fills every DaemonSet and Deployment;
 * the role is chosen by the first argument and loaded lazily, so a role pays only for what it imports.
 *
 * @module
 */
import process from "node:process";
import { type FlagSpec, splitArgsAmongRoles, UsageError } from "./components/core/flags.ts";
import { log, setLogRole } from "./components/core/log.ts";
import { shareFleetWatches } from "./components/core/fleet_watch.ts";
import { TopologyConfigError } from "./components/core/topology_config.ts";

/** fakegpu's version. */
export const VERSION = "0.1.0";

/** A role's entry point. */
export interface RoleModule {
  /** Runs the role with its arguments until it is stopped (or `signal` aborts); a number is the exit code. */
  main(args: string[], signal?: AbortSignal): Promise<void | number>;
  /** The role's flags: present on the long-running roles, which can run together in one process. */
  FLAGS?: FlagSpec[];
}

/** A role the executable can run. */
interface RoleEntry {
  summary: string;
  load: () => Promise<RoleModule>;
}

/** Every role, by the name given on the command line. */
export const ROLES: Record<string, RoleEntry> = {
  "status-updater": {
    summary:
      "keeps each GPU pool node's state (GPUs, which pod holds each) and its GPU Feature Discovery labels",
    load: () => import("./components/status_updater/mod.ts"),
  },
  "device-plugin": {
    summary: "advertises nvidia.com/gpu (and the pool's other resources) on KWOK pool nodes",
    load: () => import("./components/device_plugin/mod.ts"),
  },
  "dra-plugin": {
    summary:
      "publishes NVIDIA-shaped ResourceSlices (driver gpu.nvidia.com) for pools that offer GPUs through DRA",
    load: () => import("./components/dra_plugin/mod.ts"),
  },
  "dcgm-exporter": {
    summary: "serves NVIDIA DCGM metrics (dcgm-exporter's names and labels) for every simulated GPU",
    load: () => import("./components/dcgm_exporter/mod.ts"),
  },
  "nvidia-smi": {
    summary:
      "prints the simulated GPUs as nvidia-smi does (table, -L, --query-gpu, -q); also run as `nvidia-smi`",
    load: () => import("./components/nvidia_smi/mod.ts"),
  },
  cleanup: {
    summary:
      "removes everything fakegpu wrote (node labels and resources, states, slices); run by helm uninstall",
    load: () => import("./components/cleanup/mod.ts"),
  },
  "local-fleet": {
    summary: "starts a local control plane with a simulated GPU fleet and runs the roles against it",
    load: () => import("./components/local_fleet/mod.ts"),
  },
};

/** The top-level usage text. */
export function usage(): string {
  const width = Math.max(...Object.keys(ROLES).map((r) => r.length));
  const roles = Object.entries(ROLES).map(([name, r]) => `  ${name.padEnd(width)}  ${r.summary}`).join("\n");
  return `fakegpu ${VERSION}: a Kubernetes GPU simulator

Usage: fakegpu <role> [flags]
       fakegpu <role>+<role>[+…] [flags]   several long-running roles in one process
       fakegpu <role> --help
       fakegpu --version

Roles:
${roles}
`;
}

/** Base name of a path. */
function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * The role the executable's own name selects: `nvidia-smi` when it runs as `nvidia-smi` (a copy, hard
 * link or mount; `argv[0]` covers a symbolic link where the runtime passes it on), else undefined.
 */
export function roleOfExecutable(execPath: string, argv0: string): string | undefined {
  return [execPath, argv0].some((p) => baseName(p) === "nvidia-smi") ? "nvidia-smi" : undefined;
}

/**
 * Runs the command line; returns the process exit code. `invokedAs` is the role the executable's name
 * selects (see {@link roleOfExecutable}); its arguments are then all the role's.
 */
export async function run(args: string[], invokedAs?: string): Promise<number> {
  const [role, ...rest] = invokedAs ? [invokedAs, ...args] : args;
  if (role === undefined || role === "--help" || role === "-h" || role === "help") {
    console.log(usage());
    return role === undefined ? 2 : 0;
  }
  if (role === "--version" || role === "version") {
    console.log(`fakegpu ${VERSION}`);
    return 0;
  }
  if (role.includes("+")) return await runTogether(role, rest);
  const entry = ROLES[role];
  if (!entry) {
    console.error(`fakegpu: unknown role "${role}"\n\n${usage()}`);
    return 2;
  }
  const module = await entry.load();
  try {
    const code = await module.main(rest);
    return typeof code === "number" ? code : 0;
  } catch (err) {
    return reportFailure(role, err);
  }
}

/** Prints why a role failed and returns the exit code: 2 for a bad command line or topology, else 1. */
function reportFailure(role: string, err: unknown): number {
  if (err instanceof UsageError) {
    console.error(`fakegpu ${role}: ${err.message}\nRun "fakegpu ${role} --help" for the flags.`);
    return 2;
  }
  console.error(`fakegpu ${role}: ${(err as Error).message}`);
  log.debug("role failed", { error: err, stack: (err as Error).stack });
  return err instanceof TopologyConfigError ? 2 : 1;
}

/**
 * Runs several long-running roles in one process (`status-updater+device-plugin`): one runtime, and one
 * shared watch of the fleet, instead of one process each. Each role gets the flags it takes; when one
 * stops, the others stop too.
 */
async function runTogether(joined: string, args: string[]): Promise<number> {
  const names = joined.split("+");
  const unknown = names.find((name) => !ROLES[name]);
  if (unknown !== undefined || new Set(names).size !== names.length) {
    console.error(
      `fakegpu: "${joined}": ${
        unknown !== undefined ? `unknown role "${unknown}"` : "a role is named twice"
      }\n\n${usage()}`,
    );
    return 2;
  }
  const modules = await Promise.all(names.map((name) => ROLES[name].load()));
  const single = names.find((_, i) => !modules[i].FLAGS);
  if (single) {
    console.error(`fakegpu: ${single} runs on its own, not together with other roles`);
    return 2;
  }
  let argsByRole: string[][];
  try {
    argsByRole = splitArgsAmongRoles(args, modules.map((m) => m.FLAGS!));
  } catch (err) {
    return reportFailure(joined, err);
  }
  setLogRole(joined, true);
  shareFleetWatches();
  const stop = new AbortController();
  const results = await Promise.allSettled(
    modules.map((m, i) => m.main(argsByRole[i], stop.signal).finally(() => stop.abort())),
  );
  // A bad command line is the cause when there is one: the other roles then failed only by stopping early.
  const reason = (i: number) => (results[i] as PromiseRejectedResult).reason;
  const rejected = names.map((_, i) => i).filter((i) => results[i].status === "rejected");
  const failed = rejected.find((i) => reason(i) instanceof UsageError) ?? rejected[0];
  return failed === undefined ? 0 : reportFailure(names[failed], reason(failed));
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args, roleOfExecutable(Deno.execPath(), process.argv0)));
}
