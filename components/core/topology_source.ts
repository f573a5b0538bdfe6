/**
 * Where roles get the cluster topology from: the `topology` ConfigMap (watched, so an edit applies
 * without a restart) or a YAML file (re-read when it changes). A config that does not parse is reported
 * (log line and a Warning Event on the ConfigMap) and the last good one stays in force, so a typo never
 * takes GPUs away.
 *
 * @module
 */
import type { ClusterTopology } from "./model.ts";
import { parseTopologyYaml } from "./topology_config.ts";
import { log } from "./log.ts";
import type { KubeClient, KubeObject } from "./kube/client.ts";
import { startReflector } from "./kube/reflector.ts";
import { emitEvent } from "./kube/events.ts";

/** Data keys the topology ConfigMap may use (the first present wins). */
export const TOPOLOGY_DATA_KEYS = ["topology.yml", "topology.yaml"];

/** Options of {@link watchTopology}. */
export interface WatchTopologyOptions {
  /** Namespace of the ConfigMap. */
  namespace: string;
  /** ConfigMap name. */
  configMap: string;
  /** Read this file instead of the ConfigMap. */
  file?: string;
  /** Stops watching. */
  signal: AbortSignal;
  /** Called with each new valid topology (also the first). */
  onChange: (topology: ClusterTopology) => void;
  /** Role name for Events. */
  component: string;
}

/** Watches the topology; resolves with the first valid topology. */
export function watchTopology(client: KubeClient, options: WatchTopologyOptions): Promise<ClusterTopology> {
  return options.file ? watchFile(options) : watchConfigMap(client, options);
}

async function watchFile(options: WatchTopologyOptions): Promise<ClusterTopology> {
  const file = options.file!;
  const first = parseTopologyYaml(await Deno.readTextFile(file), file);
  options.onChange(first);
  (async () => {
    const watcher = Deno.watchFs(file);
    options.signal.addEventListener("abort", () => watcher.close());
    let last = JSON.stringify(first);
    for await (const event of watcher) {
      if (event.kind !== "modify" && event.kind !== "create") continue;
      try {
        const next = parseTopologyYaml(await Deno.readTextFile(file), file);
        if (JSON.stringify(next) === last) continue;
        last = JSON.stringify(next);
        log.info("topology file reloaded", { file });
        options.onChange(next);
      } catch (err) {
        log.error("topology file is invalid; keeping the previous topology", { file, error: err });
      }
    }
  })().catch((err) => log.error("topology file watch ended", { file, error: err }));
  return first;
}

function watchConfigMap(client: KubeClient, options: WatchTopologyOptions): Promise<ClusterTopology> {
  const { namespace, configMap } = options;
  let resolveFirst!: (t: ClusterTopology) => void;
  const first = new Promise<ClusterTopology>((resolve, reject) => {
    resolveFirst = resolve;
    options.signal.addEventListener("abort", () => reject(options.signal.reason));
  });
  let lastText: string | undefined;
  let warnedMissing = false;
  startReflector<KubeObject & { data?: Record<string, string> }>(client, {
    name: "topology",
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    fieldSelector: `metadata.name=${configMap}`,
    signal: options.signal,
    onChange: async (change) => {
      if (change.type === "synced") {
        if (lastText === undefined && !warnedMissing) {
          warnedMissing = true;
          log.warn("waiting for the topology ConfigMap", { namespace, configMap });
        }
        return;
      }
      if (change.type === "delete") {
        log.warn("topology ConfigMap deleted; keeping the last topology", { namespace, configMap });
        return;
      }
      const data = change.object.data ?? {};
      const key = TOPOLOGY_DATA_KEYS.find((k) => data[k] !== undefined);
      const text = key === undefined ? undefined : data[key];
      if (text === lastText) return;
      lastText = text;
      try {
        if (text === undefined) {
          throw new Error(
            `ConfigMap has no data key ${TOPOLOGY_DATA_KEYS.map((k) => `"${k}"`).join(" or ")}`,
          );
        }
        const topology = parseTopologyYaml(text, `configmap ${namespace}/${configMap}`);
        log.info("topology loaded", { namespace, configMap, pools: Object.keys(topology.pools) });
        options.onChange(topology);
        resolveFirst(topology);
      } catch (err) {
        log.error("topology is invalid; keeping the previous topology", { namespace, configMap, error: err });
        await emitEvent(client, {
          namespace,
          involved: { kind: "ConfigMap", name: configMap, namespace, uid: change.object.metadata?.uid },
          reason: "InvalidTopology",
          message: (err as Error).message.slice(0, 1000),
          type: "Warning",
          component: options.component,
        });
      }
    },
  });
  return first;
}
