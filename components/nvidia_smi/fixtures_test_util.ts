/**
 * Test fixtures shared by nvidia-smi's tests: an H100 node with one idle and one busy GPU, at a fixed
 * instant.
 *
 * @module
 */
import { findGpuModel } from "../core/catalogue.ts";
import { gpuDevices } from "../core/identity.ts";
import type { NodeGpuState } from "../core/node_state.ts";

/** The instant every test renders (2026-12-03 12:00:00.250 UTC), in seconds. */
export const T = Date.UTC(2026, 11, 3, 12, 0, 0, 250) / 1000;

/** An H100 node: GPU 0 idle, GPU 1 held by `default/train-0` (container `trainer`, 40–90 %, 40 GiB). */
export function h100Node(driverVersion = "580.105.08", cudaVersion = "13.0"): NodeGpuState {
  const h100 = findGpuModel("h100")!;
  const [idle, busy] = gpuDevices("kwok-h100-0", h100, 2);
  return {
    node: "kwok-h100-0",
    pool: "h100",
    kwok: true,
    gpu: { product: h100.name, model: h100.key, memoryMiB: h100.memoryMiB, driverVersion, cudaVersion },
    migStrategy: "none",
    otherResources: {},
    devices: [idle, {
      ...busy,
      holder: {
        namespace: "default",
        pod: "train-0",
        podUid: "6f1c3f1e-2b7a-4c55-9d1e-0a5b1c2d3e4f",
        container: "trainer",
        utilization: { min: 40, max: 90 },
        memoryUsedMiB: 40960,
        since: "2026-12-03T11:00:00Z",
      },
    }],
  };
}
