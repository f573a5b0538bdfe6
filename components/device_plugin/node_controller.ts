/**
 * The device plugin for a node with a real kubelet (node scope `this-node`, one process per node as a
 * DaemonSet): one {@link ResourcePlugin} per resource of the node's state, kept registered with the kubelet.
 * Every second it checks `kubelet.sock` and its own sockets: a restarted kubelet recreates `kubelet.sock` and
 * empties the directory, and the plugins then serve and register again. `/health` on the health address
 * answers 200 while every plugin is registered, else 503.
 *
 * @module
 */
import { watchFleet } from "../core/fleet_watch.ts";
import { log } from "../core/log.ts";
import type { KubeClient } from "../core/kube/client.ts";
import { nodeResources } from "./kubelet_devices.ts";
import { ResourcePlugin } from "./kubelet_plugin.ts";
import { KUBELET_SOCKET } from "./kubelet_paths.ts";
import { KubeletGpuRecorder } from "./pod_resources.ts";

/** Options of {@link runNodeDevicePlugin}. */
export interface NodeDevicePluginOptions {
  /** fakegpu's namespace. */
  namespace: string;
  /** Topology ConfigMap name. */
  topologyConfigMap: string;
  /** Topology file used instead of the ConfigMap. */
  topologyFile?: string;
  /** The node this process serves. */
  nodeName: string;
  /** The kubelet's device-plugin directory. */
  pluginDir: string;
  /** `host:port` of the health endpoint. */
  healthAddress: { hostname: string; port: number };
  /** Host path of fakegpu's nvidia-smi to mount into GPU containers. */
  nvidiaSmiHostPath?: string;
  /** The kubelet's PodResources socket. */
  podResourcesSocket: string;
  /** Stops the plugin. */
  signal: AbortSignal;
}

const CHECK_INTERVAL_MS = 1_000;
/** How long after an Allocate the kubelet's allocations are read again (it records them right after Allocate). */
const RECORD_WINDOW_MS = 10_000;

/** Serves the node's resources to its kubelet until the signal aborts. */
export async function runNodeDevicePlugin(
  client: KubeClient,
  options: NodeDevicePluginOptions,
): Promise<void> {
  const { signal, nodeName: node } = options;
  const plugins = new Map<string, ResourcePlugin>();
  const registered = new Set<string>();
  const failing = new Set<string>();
  const everRegistered = new Set<string>();
  let kubeletSocket: string | null | undefined;
  const recorder = new KubeletGpuRecorder(client, options.podResourcesSocket);
  let lastAllocate = Date.now();
  let recordFailing = false;
  const onAllocate = () => lastAllocate = Date.now();

  const fleet = watchFleet(client, {
    ...options,
    component: "device-plugin",
    node,
    readsNodeStatus: false,
    onNodeChanged: () => serial(sync),
  });

  let chain = Promise.resolve();
  /** Runs plugin changes one after another. */
  const serial = (fn: () => Promise<void>) => {
    chain = chain.then(fn).catch((err) => log.warn("device plugin sync failed", { node, error: err }));
  };

  async function sync(): Promise<void> {
    const wanted = nodeResources(fleet.state(node)?.state);
    for (const [resource, devices] of wanted) {
      const plugin = plugins.get(resource);
      if (plugin) plugin.update(devices);
      else {plugins.set(
          resource,
          new ResourcePlugin(resource, devices, { dir: options.pluginDir, node, onAllocate, ...options }),
        );}
    }
    for (const [resource, plugin] of plugins) {
      if (wanted.has(resource)) continue;
      plugins.delete(resource);
      registered.delete(resource);
      await plugin.stop();
    }
    await check();
  }

  /**
   * Registers every plugin that is not (or no longer) registered with the running kubelet: a new `kubelet.sock`
   * (its inode and change time differ) or a plugin socket the kubelet removed means the kubelet restarted.
   */
  async function check(): Promise<void> {
    const socket = await Deno.stat(`${options.pluginDir}/${KUBELET_SOCKET}`).then(
      (s) => `${s.ino}/${s.ctime?.getTime()}`,
      () => null,
    );
    if (socket !== kubeletSocket) {
      kubeletSocket = socket;
      registered.clear();
    }
    if (socket === null) return;
    if (Date.now() - lastAllocate < RECORD_WINDOW_MS) await recordAllocations();
    for (const [resource, plugin] of plugins) {
      if (registered.has(resource) && await plugin.serving()) continue;
      if (everRegistered.has(resource)) log.info("kubelet restarted: registering again", { node, resource });
      try {
        await plugin.start();
        registered.add(resource);
        everRegistered.add(resource);
        failing.delete(resource);
      } catch (err) {
        registered.delete(resource);
        if (!failing.has(resource)) {
          log.warn("device plugin registration failed", { node, resource, error: err });
        }
        failing.add(resource);
      }
    }
  }

  /** Records the kubelet's GPU allocations on the pods (see {@link KubeletGpuRecorder}). */
  async function recordAllocations(): Promise<void> {
    try {
      await recorder.record();
      recordFailing = false;
    } catch (err) {
      if (!recordFailing) log.warn("reading the kubelet's pod resources failed", { node, error: err });
      recordFailing = true;
    }
  }

  const health = Deno.serve({
    ...options.healthAddress,
    signal,
    onListen: () => {},
  }, (req) => {
    if (new URL(req.url).pathname !== "/health") return new Response("not found\n", { status: 404 });
    const missing = [...plugins.keys()].filter((r) => !registered.has(r));
    return missing.length === 0 && kubeletSocket
      ? new Response("ok\n")
      : new Response(`not registered: ${missing.join(", ") || "kubelet.sock missing"}\n`, { status: 503 });
  });

  await fleet.ready;
  log.info("device-plugin synced", { node });
  const timer = setInterval(() => serial(check), CHECK_INTERVAL_MS);
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
  clearInterval(timer);
  await chain;
  await Promise.all([...plugins.values()].map((p) => p.stop()));
  await health.finished;
}
