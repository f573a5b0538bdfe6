/**
 * The Container Device Interface spec dra-plugin writes for a prepared claim, as NVIDIA's DRA driver names it:
 * vendor `k8s.gpu.nvidia.com`, class `claim`, one file `k8s.gpu.nvidia.com-claim_<claimUID>.yaml` per claim and
 * one CDI device `<claimUID>-<device>` per allocated GPU. The edits make a container see the claim's GPUs as
 * fakegpu simulates them: `NVIDIA_VISIBLE_DEVICES` with their UUIDs, `NODE_NAME`, and fakegpu's nvidia-smi.
 *
 * @module
 */
import { NVIDIA_SMI_CONTAINER_PATH } from "../device_plugin/kubelet_devices.ts";

/** CDI kind of claim devices. */
export const CDI_KIND = "k8s.gpu.nvidia.com/claim";

/** One allocated GPU of a claim. */
export interface ClaimGpu {
  /** Device name in the ResourceSlice, e.g. `gpu-3`. */
  device: string;
  /** The GPU's UUID. */
  uuid: string;
}

/** A CDI spec (the fields fakegpu writes). */
export interface CdiSpec {
  /** CDI spec version. */
  cdiVersion: string;
  /** `vendor/class`. */
  kind: string;
  /** Edits applied when any of the spec's devices is injected. */
  containerEdits: CdiEdits;
  /** One device per GPU. */
  devices: { name: string; containerEdits: CdiEdits }[];
}

/** CDI container edits. */
export interface CdiEdits {
  /** `KEY=value` entries. */
  env?: string[];
  /** Bind mounts. */
  mounts?: { hostPath: string; containerPath: string; options: string[] }[];
}

/** The file name of a claim's spec. */
export function cdiSpecFile(claimUid: string): string {
  return `k8s.gpu.nvidia.com-claim_${claimUid}.yaml`;
}

/** The fully qualified CDI device id of one GPU of a claim. */
export function cdiDeviceId(claimUid: string, device: string): string {
  return `${CDI_KIND}=${claimUid}-${device}`;
}

/** The spec of a claim's GPUs on `node`. */
export function cdiSpec(
  claimUid: string,
  gpus: readonly ClaimGpu[],
  node: string,
  nvidiaSmiHostPath?: string,
): CdiSpec {
  const env = [`NVIDIA_VISIBLE_DEVICES=${gpus.map((g) => g.uuid).join(",")}`, `NODE_NAME=${node}`];
  const mounts = nvidiaSmiHostPath
    ? [{
      hostPath: nvidiaSmiHostPath,
      containerPath: NVIDIA_SMI_CONTAINER_PATH,
      options: ["ro", "nosuid", "nodev", "bind"],
    }]
    : undefined;
  return {
    cdiVersion: "0.6.0",
    kind: CDI_KIND,
    containerEdits: { env, ...(mounts ? { mounts } : {}) },
    // CDI requires edits on every device: each names its GPU (`gpu-3` → FAKEGPU_GPU_3_UUID).
    devices: gpus.map((g) => ({
      name: `${claimUid}-${g.device}`,
      containerEdits: { env: [`FAKEGPU_${g.device.toUpperCase().replaceAll("-", "_")}_UUID=${g.uuid}`] },
    })),
  };
}
