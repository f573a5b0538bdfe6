/**
 * Role `device-plugin`: advertises the GPUs of pool nodes to the scheduler. Node scope `kwok` runs one
 * central process for every KWOK pool node and writes node status directly, since KWOK nodes have no
 * kubelet to register with. Node scope `this-node` is the kubelet device plugin of one real node (a DaemonSet
 * with `NODE_NAME` from the downward API): it registers `nvidia.com/gpu` and the pool's other resources on
 * `kubelet.sock`, so the kubelet owns the node's capacity.
 *
 * @module
 */
import { z } from "zod";
import { COMMON_FLAGS, nodeScopedFlagsSchema, runRole } from "../core/role_runtime.ts";
import { type FlagSpec, LISTEN_ADDRESS_PATTERN, parseListenAddress } from "../core/flags.ts";
import { runKwokDevicePlugin } from "./controller.ts";
import { DEVICE_PLUGIN_DIR, POD_RESOURCES_SOCKET } from "./kubelet_paths.ts";

/** Flags of `fakegpu device-plugin`. */
export const FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  {
    name: "node-scope",
    description: "which nodes this process serves: kwok (every KWOK pool node, written centrally) or " +
      "this-node (the kubelet device plugin of --node-name)",
    defaultText: "kwok",
  },
  {
    name: "node-name",
    description: "the node served with --node-scope this-node",
    defaultText: "$NODE_NAME",
  },
  { name: "workers", description: "nodes written at the same time (kwok)", defaultText: "8" },
  {
    name: "plugin-dir",
    description: "the kubelet's device-plugin directory (this-node)",
    defaultText: DEVICE_PLUGIN_DIR,
  },
  { name: "health-address", description: "[host]:port of GET /health (this-node)", defaultText: ":8081" },
  {
    name: "pod-resources-socket",
    description: "the kubelet's PodResources socket, read for the GPUs it gave each pod (this-node)",
    defaultText: POD_RESOURCES_SOCKET,
  },
  {
    name: "nvidia-smi-host-path",
    description: "host path of fakegpu's nvidia-smi, mounted read-only into GPU containers (this-node)",
  },
];

/**
 * The schema of {@link FLAGS}; `nodeNameFromEnv` is `$NODE_NAME`. Scope `this-node` needs a node
 * name and turns leader election off: each node's process serves its own kubelet.
 */
export function devicePluginFlagsSchema(nodeNameFromEnv?: string) {
  return nodeScopedFlagsSchema(nodeNameFromEnv, {
    workers: z.coerce.number().int().min(1).max(64).default(8),
    pluginDir: z.string().min(1).default(DEVICE_PLUGIN_DIR),
    healthAddress: z.string().regex(LISTEN_ADDRESS_PATTERN, 'expected "[host]:port", e.g. ":8081"').default(
      ":8081",
    ),
    nvidiaSmiHostPath: z.string().min(1).optional(),
    podResourcesSocket: z.string().min(1).default(POD_RESOURCES_SOCKET),
  });
}

/** Runs the device plugin with the given command-line arguments until SIGINT/SIGTERM or `signal`. */
export async function main(args: string[], signal?: AbortSignal): Promise<void> {
  await runRole({
    role: "device-plugin",
    args,
    flags: FLAGS,
    schema: devicePluginFlagsSchema(Deno.env.get("NODE_NAME")),
    signal,
    run: async ({ flags, client, signal }) =>
      flags.nodeScope === "this-node"
        // Loaded only here: the kubelet plugin's gRPC costs the KWOK scope about 14 MiB of RSS.
        ? (await import("./node_controller.ts")).runNodeDevicePlugin(client, {
          namespace: flags.namespace,
          topologyConfigMap: flags.topologyConfigmap,
          topologyFile: flags.topologyFile,
          nodeName: flags.nodeName!,
          pluginDir: flags.pluginDir,
          healthAddress: parseListenAddress(flags.healthAddress, "--health-address"),
          nvidiaSmiHostPath: flags.nvidiaSmiHostPath,
          podResourcesSocket: flags.podResourcesSocket,
          signal,
        })
        : runKwokDevicePlugin(client, {
          namespace: flags.namespace,
          topologyConfigMap: flags.topologyConfigmap,
          topologyFile: flags.topologyFile,
          workers: flags.workers,
          signal,
        }),
  });
}
