import assert from "node:assert/strict";
import { decodeNodeState, encodeNodeState, type NodeGpuState } from "./node_state.ts";
import { testState } from "./test_state.ts";

Deno.test("node state: a pod holding several GPUs is written as plain values, without YAML anchors", () => {
  const utilization = { min: 10, max: 30 };
  const holder = { namespace: "default", pod: "train-0", podUid: "u1", container: "main", utilization };
  const base = testState("n1", "a100-80gb", 2);
  const state: NodeGpuState = { ...base, devices: base.devices.map((d) => ({ ...d, holder })) };
  const text = encodeNodeState(state);
  assert.doesNotMatch(text, /[&*]a\d/);
  assert.equal(text.match(/min: 10/g)?.length, 2);
  assert.deepEqual(decodeNodeState(text), state);
});
