/**
 * Role `dra-plugin`: publishes the GPUs of pool nodes whose pool offers them through Dynamic Resource
 * Allocation (`gpuOffer: dra` or `both`) as the ResourceSlices NVIDIA's DRA driver (`gpu.nvidia.com`) would
 * publish, and creates NVIDIA's DeviceClasses when absent. Node scope `kwok` runs one leader-elected process
 * for every KWOK pool node; `this-node` publishes only the node the process runs on (`--node-name`, else
 * `$NODE_NAME`), one process per node, without leader election, and is also the node's kubelet DRA plugin once the
 * kubelet's plugin registration directory exists (see kubelet_dra.ts).
 *
 * @module
 */
import { z } from "zod";
import { COMMON_FLAGS, nodeScopedFlagsSchema, runRole } from "../core/role_runtime.ts";
import type { FlagSpec } from "../core/flags.ts";
import { runDraPlugin } from "./controller.ts";
import {
  CDI_ROOT,
  DRA_PLUGIN_DIR,
  PLUGIN_REGISTRY_DIR,
  runKubeletDraPlugin,
  whenDirectoryExists,
} from "./kubelet_dra.ts";

/** Flags of `fakegpu dra-plugin`. */
export const FLAGS: FlagSpec[] = [
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
  {
    name: "plugin-registry-dir",
    description:
      "the kubelet's plugin registration directory (this-node; the kubelet side starts once it exists)",
    defaultText: PLUGIN_REGISTRY_DIR,
  },
  {
    name: "kubelet-plugin-dir",
    description: "directory of the DRA socket and checkpoint (this-node)",
    defaultText: DRA_PLUGIN_DIR,
  },
  {
    name: "cdi-root",
    description: "directory the claims' CDI specs are written to (this-node)",
    defaultText: CDI_ROOT,
  },
  {
    name: "nvidia-smi-host-path",
    description: "host path of fakegpu's nvidia-smi, mounted read-only through the CDI specs (this-node)",
  },
];

/**
 * The schema of {@link FLAGS}; `nodeNameFromEnv` is `$NODE_NAME`. Scope `this-node` needs a node
 * name and turns leader election off: each node's process publishes its own slice.
 */
export function draPluginFlagsSchema(nodeNameFromEnv?: string) {
  return nodeScopedFlagsSchema(nodeNameFromEnv, {
    workers: z.coerce.number().int().min(1).max(64).default(8),
    pluginRegistryDir: z.string().min(1).default(PLUGIN_REGISTRY_DIR),
    kubeletPluginDir: z.string().min(1).default(DRA_PLUGIN_DIR),
    cdiRoot: z.string().min(1).default(CDI_ROOT),
    nvidiaSmiHostPath: z.string().min(1).optional(),
  });
}

/** Runs the DRA plugin with the given command-line arguments until SIGINT/SIGTERM or `signal`. */
export async function main(args: string[], signal?: AbortSignal): Promise<void> {
  await runRole({
    role: "dra-plugin",
    args,
    flags: FLAGS,
    schema: draPluginFlagsSchema(Deno.env.get("NODE_NAME")),
    signal,
    run: async ({ flags, client, signal }) => {
      const slices = runDraPlugin(client, {
        namespace: flags.namespace,
        topologyConfigMap: flags.topologyConfigmap,
        topologyFile: flags.topologyFile,
        scope: flags.nodeScope,
        nodeName: flags.nodeName,
        workers: flags.workers,
        signal,
      });
      if (flags.nodeScope !== "this-node") return await slices;
      await Promise.all([
        slices,
        whenDirectoryExists(flags.pluginRegistryDir, signal).then((exists) =>
          exists
            ? runKubeletDraPlugin(client, {
              namespace: flags.namespace,
              nodeName: flags.nodeName!,
              registryDir: flags.pluginRegistryDir,
              pluginDir: flags.kubeletPluginDir,
              cdiRoot: flags.cdiRoot,
              nvidiaSmiHostPath: flags.nvidiaSmiHostPath,
              signal,
            })
            : undefined
        ),
      ]);
    },
  });
}
