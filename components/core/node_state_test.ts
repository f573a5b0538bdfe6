import assert from "node:assert/strict";
import { decodeNodeState, encodeNodeState, type NodeGpuState } from "./node_state.ts";
import { testState } from "./test_state.ts";

Deno.test("node state: a pod holding several GPUs is written as plain values, without YAML anchors", () => {
  const utilization = { min: 10, max: 30 };
  const holder = { namespace: "default", pod: "train-0", podUid: "u1", container: "main", utilization };
  const base = testState("n1", "a100-80gb", 2);
  const state: NodeGpuState = { ...base, devices: base.devices.map((d) => ({ ...d, holders: [holder] })) };
  const text = encodeNodeState(state);
  assert.doesNotMatch(text, /[&*]a\d/);
  assert.equal(text.match(/min: 10/g)?.length, 2);
  assert.deepEqual(decodeNodeState(text), state);
});

Deno.test("node state: a state written with one holder and sharedWith (before several holders) reads as holders", () => {
  const base = testState("n1", "a100-80gb", 1);
  const old = {
    ...base,
    devices: [{
      ...base.devices[0],
      holder: {
        namespace: "ml",
        pod: "a",
        podUid: "ua",
        container: "main",
        since: "2026-12-01T00:00:00.000Z",
      },
      sharedWith: [{ namespace: "ml", pod: "b", podUid: "ub" }],
    }],
  };
  const [device] = decodeNodeState(encodeNodeState(old as NodeGpuState)).devices;
  assert.deepEqual(device.holders?.map((h) => [h.pod, h.podUid, h.container]), [["a", "ua", "main"], [
    "b",
    "ub",
    "main",
  ]]);
  assert.equal(device.holders?.[0].since, "2026-12-01T00:00:00.000Z");
  assert.equal("holder" in device, false);
});
