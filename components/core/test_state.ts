/**
 * A node state for unit tests, built from the shared GPU model the way status-updater builds it.
 *
 * @module
 */
import { findGpuModel } from "./catalogue.ts";
import { gpuDevices } from "./identity.ts";
import type { GpuOffer } from "./model.ts";
import type { NodeGpuState } from "./node_state.ts";

/** The state of `node` with `count` GPUs of catalogue model `key`, offered as `gpuOffer`. */
export function testState(node: string, key: string, count: number, gpuOffer?: GpuOffer): NodeGpuState {
  const model = findGpuModel(key)!;
  return {
    node,
    pool: key,
    kwok: true,
    gpu: {
      product: model.name,
      model: model.key,
      memoryMiB: model.memoryMiB,
      driverVersion: "580.105.08",
      cudaVersion: "13.0",
    },
    migStrategy: "none",
    otherResources: {},
    ...(gpuOffer ? { gpuOffer } : {}),
    devices: gpuDevices(node, model, count).map((d) => ({ ...d })),
  };
}
