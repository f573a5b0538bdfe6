/**
 * Role `dcgm-exporter`: NVIDIA DCGM metrics for every simulated GPU, in dcgm-exporter's names, labels and
 * formats, with pod attribution from the node state. Node scope `kwok` serves every KWOK pool node from one
 * process (each series names its node in `Hostname`); `this-node` serves the GPUs of `NODE_NAME`. Not
 * leader-elected: every replica serves the same values, since each value is a pure function of the state
 * and the time.
 *
 * @module
 */
import { z } from "zod";
import { CLIENT_FLAGS, clientFlagsSchema, runRole } from "../core/role_runtime.ts";
import { type FlagSpec, LISTEN_ADDRESS_PATTERN, parseListenAddress } from "../core/flags.ts";
import { type Counter, CountersFileError, parseCounters } from "./counters.ts";
import { DEFAULT_COUNTERS_CSV } from "./fields.ts";
import { type ExporterScope, runDcgmExporter } from "./exporter.ts";

/** Flags of `fakegpu dcgm-exporter`. */
export const FLAGS: FlagSpec[] = [
  ...CLIENT_FLAGS,
  {
    name: "node-scope",
    description: "kwok (every KWOK pool node, from one process) or this-node (the GPUs of --node-name)",
    defaultText: "kwok",
  },
  {
    name: "node-name",
    description: "the node served with --node-scope this-node",
    envAliases: ["NODE_NAME"],
  },
  {
    name: "address",
    short: "a",
    description: "listen address, [host]:port",
    defaultText: ":9400",
    envAliases: ["DCGM_EXPORTER_LISTEN"],
  },
  {
    name: "collectors",
    short: "f",
    description: "counters file in dcgm-exporter's CSV format",
    defaultText: "dcgm-exporter's default counters",
    envAliases: ["DCGM_EXPORTER_COLLECTORS"],
  },
];

/** Reads the counters file, or the default counters when none is given. */
export function loadCounters(file: string | undefined): Counter[] {
  if (file === undefined) return parseCounters(DEFAULT_COUNTERS_CSV, "default-counters.csv");
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    throw new CountersFileError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseCounters(text, file);
}

const schema = clientFlagsSchema.extend({
  nodeScope: z.enum(["kwok", "this-node"]).default("kwok"),
  nodeName: z.string().min(1).optional(),
  address: z.string().regex(LISTEN_ADDRESS_PATTERN, 'expected "[host]:port", e.g. ":9400"')
    .default(":9400"),
  collectors: z.string().min(1).optional().transform((file, ctx) => {
    try {
      return loadCounters(file);
    } catch (err) {
      if (!(err instanceof CountersFileError)) throw err;
      ctx.addIssue({ code: "custom", message: err.message });
      return z.NEVER;
    }
  }),
}).superRefine((flags, ctx) => {
  if (flags.nodeScope === "this-node" && !flags.nodeName) {
    ctx.addIssue({
      code: "custom",
      path: ["nodeName"],
      message: "is required with --node-scope this-node (set NODE_NAME from the downward API)",
    });
  }
});

/** Runs the exporter with the given command-line arguments until SIGINT/SIGTERM or `signal`. */
export async function main(args: string[], signal?: AbortSignal): Promise<void> {
  await runRole({
    role: "dcgm-exporter",
    args,
    flags: FLAGS,
    schema,
    signal,
    run: ({ flags, client, signal }) => {
      const scope: ExporterScope = flags.nodeScope === "kwok"
        ? { kind: "kwok" }
        : { kind: "this-node", node: flags.nodeName! };
      const counters = flags.collectors;
      return runDcgmExporter(client, {
        namespace: flags.namespace,
        scope,
        counters,
        ...parseListenAddress(flags.address),
        signal,
      });
    },
  });
}
