/**
 * The fakegpu executable: `fakegpu <role> [flags]`. One binary fills every DaemonSet and Deployment;
 * the role is chosen by the first argument and loaded lazily, so a role pays only for what it imports.
 *
 * @module
 */
import process from "node:process";
import { UsageError } from "./components/core/flags.ts";
import { log } from "./components/core/log.ts";
import { TopologyConfigError } from "./components/core/topology_config.ts";

/** fakegpu's version. */
export const VERSION = "0.1.0";

/** A role's entry point. */
export interface RoleModule {
  /** Runs the role with its arguments until it is stopped; a number is the process exit code. */
  main(args: string[]): Promise<void | number>;
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
    if (err instanceof UsageError) {
      console.error(`fakegpu ${role}: ${err.message}\nRun "fakegpu ${role} --help" for the flags.`);
      return 2;
    }
    console.error(`fakegpu ${role}: ${(err as Error).message}`);
    log.debug("role failed", { error: err, stack: (err as Error).stack });
    return err instanceof TopologyConfigError ? 2 : 1;
  }
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args, roleOfExecutable(Deno.execPath(), process.argv0)));
}
