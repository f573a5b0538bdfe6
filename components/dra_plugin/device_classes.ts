/**
 * NVIDIA's DeviceClasses for GPUs, as the DRA driver's chart ships them (nvidia-stack.md §5.2):
 * `gpu.nvidia.com` for whole GPUs, which also names the extended resource `nvidia.com/gpu` so that a pod
 * asking `limits: nvidia.com/gpu` can get a GPU through DRA on a node that does not advertise the extended
 * resource (Kubernetes' DRAExtendedResource, beta and on by default since 1.36), and `mig.nvidia.com` for
 * MIG devices. dra-plugin creates them when absent and never changes existing ones.
 *
 * @module
 */
import { GPU_RESOURCE } from "../core/allocation.ts";
import { log } from "../core/log.ts";
import { KubeApiError, type KubeClient } from "../core/kube/client.ts";
import { DRA_DRIVER } from "./devices.ts";
import { RESOURCE_API_VERSION } from "./reconcile.ts";

/** A `resource.k8s.io/v1` DeviceClass, the fields NVIDIA's chart sets. */
export interface DeviceClass {
  /** `resource.k8s.io/v1`. */
  apiVersion: string;
  /** `DeviceClass`. */
  kind: string;
  /** Name and labels. */
  metadata: { name: string; labels: Record<string, string> };
  /** CEL selectors and, for whole GPUs, the extended resource the class stands for. */
  spec: { selectors: { cel: { expression: string } }[]; extendedResourceName?: string };
}

function deviceClass(name: string, type: string, extendedResourceName?: string): DeviceClass {
  return {
    apiVersion: RESOURCE_API_VERSION,
    kind: "DeviceClass",
    metadata: { name, labels: { "app.kubernetes.io/managed-by": "fakegpu" } },
    spec: {
      selectors: [{
        cel: {
          expression:
            `device.driver == '${DRA_DRIVER}' && device.attributes['${DRA_DRIVER}'].type == '${type}'`,
        },
      }],
      ...(extendedResourceName ? { extendedResourceName } : {}),
    },
  };
}

/** The DeviceClasses `gpu.nvidia.com` and `mig.nvidia.com`. */
export function nvidiaDeviceClasses(): DeviceClass[] {
  return [deviceClass("gpu.nvidia.com", "gpu", GPU_RESOURCE), deviceClass("mig.nvidia.com", "mig")];
}

/**
 * Creates each of {@link nvidiaDeviceClasses} that does not exist yet. Never throws: a class that cannot be
 * created is logged, and the slices are published all the same.
 */
export async function ensureDeviceClasses(client: KubeClient): Promise<void> {
  const path = "/apis/resource.k8s.io/v1/deviceclasses";
  for (const cls of nvidiaDeviceClasses()) {
    try {
      if (await client.get(`${path}/${cls.metadata.name}`)) continue;
      await client.create(path, cls);
      log.info("device class created", { deviceClass: cls.metadata.name });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 409) continue;
      log.warn("cannot create device class; claims for it stay pending until it exists", {
        deviceClass: cls.metadata.name,
        error,
      });
    }
  }
}
