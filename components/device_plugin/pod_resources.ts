/**
 * Tells status-updater which GPUs the kubelet gave each pod on a real node: the kubelet's PodResources API lists
 * the device IDs of every container, and the plugin records each GPU pod's UUIDs on the pod (annotation
 * {@link KUBELET_GPUS_ANNOTATION}), so the node state names the same GPUs as the container's
 * `NVIDIA_VISIBLE_DEVICES`.
 *
 * @module
 */
import { GPU_RESOURCE, KUBELET_GPUS_ANNOTATION } from "../core/allocation.ts";
import { callUnary, loadProto, service, unixClient } from "../core/grpc.ts";
import { gpuOfDevice } from "./kubelet_devices.ts";
import type { KubeClient } from "../core/kube/client.ts";
import { POD_RESOURCES_SOCKET } from "./kubelet_paths.ts";

const PodResourcesLister = service(
  loadProto(new URL("./podresources.proto", import.meta.url)),
  "v1",
  "PodResourcesLister",
);

/** One pod in a PodResources List answer. */
export interface PodResources {
  /** Pod name. */
  name: string;
  /** Pod namespace. */
  namespace: string;
  /** Its containers and their devices. */
  containers: { name: string; devices: { resource_name: string; device_ids: string[] }[] }[];
}

/** The GPU UUIDs (replica suffixes removed, each once) of every pod holding GPUs, by `namespace/name`. */
export function podGpus(pods: readonly PodResources[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const pod of pods) {
    const ids = pod.containers.flatMap((c) =>
      c.devices.filter((d) => d.resource_name === GPU_RESOURCE).flatMap((d) => d.device_ids)
    ).map(gpuOfDevice);
    if (ids.length > 0) result.set(`${pod.namespace}/${pod.name}`, [...new Set(ids)].sort().join(","));
  }
  return result;
}

/** Records the kubelet's GPU allocations on the pods; remembers what it wrote so it writes each once. */
export class KubeletGpuRecorder {
  readonly #written = new Map<string, string>();

  /** Recorder reading the PodResources API on `socket`. */
  constructor(readonly client: KubeClient, readonly socket: string = POD_RESOURCES_SOCKET) {}

  /** Lists the kubelet's pod resources and annotates each GPU pod whose record is new or changed. */
  async record(): Promise<void> {
    const lister = unixClient(PodResourcesLister, this.socket);
    let answer: { pod_resources: PodResources[] };
    try {
      answer = await callUnary(lister, "List", {});
    } finally {
      lister.close();
    }
    for (const [key, uuids] of podGpus(answer.pod_resources)) {
      if (this.#written.get(key) === uuids) continue;
      const [namespace, name] = key.split("/");
      await this.client.mergePatch(`/api/v1/namespaces/${namespace}/pods/${name}`, {
        metadata: { annotations: { [KUBELET_GPUS_ANNOTATION]: uuids } },
      });
      this.#written.set(key, uuids);
    }
  }
}
