import assert from "node:assert/strict";
import { decodeNodeState, encodeNodeState, type NodeGpuState } from "./node_state.ts";
import { gpuDevices } from "./identity.ts";
import { findGpuModel } from "./catalogue.ts";

Deno.test("node state: a pod holding several GPUs is written as plain values, without YAML anchors", () => {
  const model = findGpuModel("a100-80gb")!;
  const utilization = { min: 10, max: 30 };
  const holder = { namespace: "default", pod: "train-0", podUid: "u1", container: "main", utilization };
  const state: NodeGpuState = {
    node: "n1",
    pool: "a100",
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
    devices: gpuDevices("n1", model, 2).map((d) => ({ ...d, holder })),
  };
  const text = encodeNodeState(state);
  assert.doesNotMatch(text, /[&*]a\d/);
  assert.equal(text.match(/min: 10/g)?.length, 2);
  assert.deepEqual(decodeNodeState(text), state);
});
