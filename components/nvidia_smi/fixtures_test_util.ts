/**
 * Test fixtures shared by nvidia-smi's tests: an H100 node with one idle and one busy GPU and an A100 node
 * with MIG devices, at a fixed instant.
 *
 * @module
 */
import { findGpuModel } from "../core/catalogue.ts";
import { gpuDevices } from "../core/identity.ts";
import { migDevices, resolveMigLayout } from "../core/mig_layout.ts";
import type { GpuModel } from "../core/model.ts";
import type { NodeGpuDevice, NodeGpuState } from "../core/node_state.ts";

/** The instant every test renders (2026-12-03 12:00:00.250 UTC), in seconds. */
export const T = Date.UTC(2026, 11, 3, 12, 0, 0, 250) / 1000;

/** A kwok node `kwok-<key>-0` of two GPUs of the model `key`, as `devices` makes them from the plain ones. */
function twoGpuNode(
  key: string,
  driverVersion: string,
  cudaVersion: string,
  devices: (plain: NodeGpuDevice[], model: GpuModel) => NodeGpuDevice[],
): NodeGpuState {
  const model = findGpuModel(key)!;
  const node = `kwok-${key}-0`;
  return {
    node,
    pool: key,
    kwok: true,
    gpu: { product: model.name, model: model.key, memoryMiB: model.memoryMiB, driverVersion, cudaVersion },
    migStrategy: "mixed",
    otherResources: {},
    devices: devices([...gpuDevices(node, model, 2)], model),
  };
}

/** A holder pod `default/<pod>` with its container, utilization range and memory, since 11:00. */
function holder(
  pod: string,
  podUid: string,
  container: string,
  util: [number, number],
  memoryUsedMiB: number,
) {
  return {
    namespace: "default",
    pod,
    podUid,
    container,
    utilization: { min: util[0], max: util[1] },
    memoryUsedMiB,
    since: "2026-12-03T11:00:00Z",
  };
}

/** An H100 node: GPU 0 idle, GPU 1 held by `default/train-0` (container `trainer`, 40–90 %, 40 GiB). */
export function h100Node(driverVersion = "580.105.08", cudaVersion = "13.0"): NodeGpuState {
  const train = holder("train-0", "6f1c3f1e-2b7a-4c55-9d1e-0a5b1c2d3e4f", "trainer", [40, 90], 40960);
  return {
    ...twoGpuNode(
      "h100",
      driverVersion,
      cudaVersion,
      ([idle, busy]) => [idle, { ...busy, holders: [train] }],
    ),
    migStrategy: "none",
  };
}

/**
 * An A100 80GB PCIe node with MIG on GPU 0 (3g.40gb, 2g.20gb, 1g.10gb; the 2g.20gb held by `default/infer-0`,
 * container `server`, 20–60 %, 6 GiB) and GPU 1 whole and idle.
 */
export function a100MigNode(driverVersion = "580.105.08", cudaVersion = "13.0"): NodeGpuState {
  const infer = holder("infer-0", "0b7d7a52-5f0e-4d0a-9a43-6c1f6c0e2a11", "server", [20, 60], 6144);
  return twoGpuNode("a100-80gb-pcie", driverVersion, cudaVersion, ([gpu, whole], model) => {
    const [big, mid, small] = migDevices(
      gpu.uuid,
      resolveMigLayout(model, ["3g.40gb", "2g.20gb", "1g.10gb"], 1)[0],
    );
    return [{ ...gpu, mig: [big, { ...mid, holder: infer }, small] }, whole];
  });
}
