/**
 * Role `device-plugin`: advertises the GPUs of pool nodes to the scheduler. Node scope `kwok` runs one
 * central process for every KWOK pool node and writes node status directly, since KWOK nodes have no
 * kubelet to register with.
 *
 * @module
 */
import { z } from "zod";
import { COMMON_FLAGS, commonFlagsSchema, runRole } from "../core/role_runtime.ts";
import type { FlagSpec } from "../core/flags.ts";
import { runKwokDevicePlugin } from "./controller.ts";

/** Flags of `fakegpu device-plugin`. */
export const DEVICE_PLUGIN_FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  {
    name: "node-scope",
    description: "which nodes this process serves: kwok (every KWOK pool node, written centrally)",
    defaultText: "kwok",
  },
  { name: "workers", description: "nodes written at the same time", defaultText: "8" },
];

const schema = commonFlagsSchema.extend({
  nodeScope: z.enum(["kwok"], {
    error: (issue) =>
      `expected "kwok", got "${issue.input}" (the kubelet gRPC plugin for this node is not available yet)`,
  }).default("kwok"),
  workers: z.coerce.number().int().min(1).max(64).default(8),
});

/** Runs the device plugin with the given command-line arguments until SIGINT/SIGTERM or `signal`. */
export async function main(args: string[], signal?: AbortSignal): Promise<void> {
  await runRole({
    role: "device-plugin",
    args,
    flags: DEVICE_PLUGIN_FLAGS,
    schema,
    signal,
    run: ({ flags, client, signal }) =>
      runKwokDevicePlugin(client, {
        namespace: flags.namespace,
        topologyConfigMap: flags.topologyConfigmap,
        topologyFile: flags.topologyFile,
        workers: flags.workers,
        signal,
      }),
  });
}
