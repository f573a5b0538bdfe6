/**
 * Role `dra-plugin`: publishes the GPUs of pool nodes whose pool offers them through Dynamic Resource
 * Allocation (`gpuOffer: dra` or `both`) as the ResourceSlices NVIDIA's DRA driver (`gpu.nvidia.com`) would
 * publish, and creates NVIDIA's DeviceClasses when absent. Node scope `kwok` runs one leader-elected process
 * for every KWOK pool node; `this-node` publishes only the node the process runs on (`--node-name`, else
 * `$NODE_NAME`), one process per node, without leader election.
 *
 * @module
 */
import { z } from "zod";
import { COMMON_FLAGS, nodeScopedFlagsSchema, runRole } from "../core/role_runtime.ts";
import type { FlagSpec } from "../core/flags.ts";
import { runDraPlugin } from "./controller.ts";

/** Flags of `fakegpu dra-plugin`. */
export const DRA_PLUGIN_FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  {
    name: "node-scope",
    description: "which nodes this process serves: kwok (every KWOK pool node) or this-node (--node-name)",
    defaultText: "kwok",
  },
  {
    name: "node-name",
    description: "the node served with --node-scope this-node",
    defaultText: "$NODE_NAME",
  },
  { name: "workers", description: "nodes written at the same time", defaultText: "8" },
];

/**
 * The schema of {@link DRA_PLUGIN_FLAGS}; `nodeNameFromEnv` is `$NODE_NAME`. Scope `this-node` needs a node
 * name and turns leader election off: each node's process publishes its own slice.
 */
export function draPluginFlagsSchema(nodeNameFromEnv?: string) {
  return nodeScopedFlagsSchema(nodeNameFromEnv, {
    workers: z.coerce.number().int().min(1).max(64).default(8),
  });
}

/** Runs the DRA plugin with the given command-line arguments until SIGINT/SIGTERM or `signal`. */
export async function main(args: string[], signal?: AbortSignal): Promise<void> {
  await runRole({
    role: "dra-plugin",
    args,
    flags: DRA_PLUGIN_FLAGS,
    schema: draPluginFlagsSchema(Deno.env.get("NODE_NAME")),
    signal,
    run: ({ flags, client, signal }) =>
      runDraPlugin(client, {
        namespace: flags.namespace,
        topologyConfigMap: flags.topologyConfigmap,
        topologyFile: flags.topologyFile,
        scope: flags.nodeScope,
        nodeName: flags.nodeName,
        workers: flags.workers,
        signal,
      }),
  });
}
