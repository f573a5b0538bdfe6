import assert from "node:assert/strict";
import { type ResourceSlice, sliceAction, type SliceInput, sliceName } from "./reconcile.ts";
import { testState } from "../core/test_state.ts";

const base: SliceInput = {
  node: "kwok-h100-0",
  scope: "kwok",
  nodeUid: "uid-1",
  served: true,
  inPool: true,
  state: testState("kwok-h100-0", "h100", 8, "dra"),
};

/** The slice as the API server would return it after `action` wrote it. */
function stored(action: ReturnType<typeof sliceAction>, resourceVersion = "7"): ResourceSlice {
  assert.ok(action.type === "create" || action.type === "update", `expected a write, got ${action.type}`);
  return { ...action.slice, metadata: { ...action.slice.metadata, resourceVersion } };
}

Deno.test("sliceAction() creates one slice per node: pool = node name, owned by the Node", () => {
  const action = sliceAction(base);
  assert.equal(action.type, "create");
  const { slice } = action as { slice: ResourceSlice };
  assert.equal(slice.metadata.name, "kwok-h100-0-gpu.nvidia.com");
  assert.deepEqual(slice.metadata.labels, {
    "app.kubernetes.io/managed-by": "fakegpu",
    "fakegpu.io/dra-node-scope": "kwok",
  });
  assert.deepEqual(slice.metadata.ownerReferences, [
    { apiVersion: "v1", kind: "Node", name: "kwok-h100-0", uid: "uid-1", controller: true },
  ]);
  assert.deepEqual(slice.spec.pool, { name: "kwok-h100-0", generation: 1, resourceSliceCount: 1 });
  assert.equal(slice.spec.driver, "gpu.nvidia.com");
  assert.equal(slice.spec.nodeName, "kwok-h100-0");
  assert.equal(slice.spec.devices?.length, 8);
});

Deno.test("sliceAction() writes nothing when the stored slice already matches", () => {
  const current = stored(sliceAction(base));
  assert.deepEqual(sliceAction({ ...base, current }), { type: "none" });
  assert.deepEqual(sliceAction({ ...base, state: { ...base.state!, gpuOffer: "both" }, current }), {
    type: "none",
  });
});

Deno.test("sliceAction() updates a changed pool with the next generation from the stored version", () => {
  const current = stored(sliceAction(base));
  const action = sliceAction({ ...base, state: testState("kwok-h100-0", "a100-80gb", 4, "dra"), current });
  assert.equal(action.type, "update");
  const { slice } = action as { slice: ResourceSlice };
  assert.equal(slice.spec.pool.generation, 2);
  assert.equal(slice.metadata.resourceVersion, "7");
  assert.equal(slice.spec.devices?.length, 4);
  assert.deepEqual(slice.spec.devices?.[0].attributes.productName, { string: "NVIDIA A100-SXM4-80GB" });
  const recreatedNode = sliceAction({ ...base, nodeUid: "uid-2", current });
  assert.equal(recreatedNode.type, "update");
});

Deno.test("sliceAction() deletes the slice when the node leaves the pool, stops offering DRA or is gone", () => {
  const current = stored(sliceAction(base));
  const deleted = { type: "delete", name: "kwok-h100-0-gpu.nvidia.com" };
  assert.deepEqual(sliceAction({ ...base, inPool: false, state: undefined, current }), deleted);
  assert.deepEqual(
    sliceAction({ ...base, state: { ...base.state!, gpuOffer: "extended-resource" }, current }),
    deleted,
  );
  assert.deepEqual(
    sliceAction({ ...base, state: { ...base.state!, gpuOffer: undefined }, current }),
    deleted,
  );
  assert.deepEqual(sliceAction({ ...base, nodeUid: undefined, current }), deleted);
  assert.deepEqual(sliceAction({ ...base, served: false, current }), deleted);
});

Deno.test("sliceAction() keeps the slice while a pool node's state is momentarily missing", () => {
  const current = stored(sliceAction(base));
  assert.deepEqual(sliceAction({ ...base, state: undefined, current }), { type: "none" });
});

Deno.test("sliceAction() publishes nothing for extended-resource pools and nodes it does not serve", () => {
  assert.deepEqual(sliceAction({ ...base, state: testState("kwok-h100-0", "h100", 8) }), { type: "none" });
  assert.deepEqual(sliceAction({ ...base, served: false }), { type: "none" });
  assert.deepEqual(sliceAction({ ...base, state: undefined }), { type: "none" });
});

Deno.test("sliceAction() labels this-node slices with their scope", () => {
  const action = sliceAction({ ...base, scope: "this-node" });
  assert.equal(
    (action as { slice: ResourceSlice }).slice.metadata.labels?.["fakegpu.io/dra-node-scope"],
    "this-node",
  );
});

Deno.test("sliceAction() reports a state the driver could not have published", () => {
  const state = testState("kwok-h100-0", "h100", 1, "dra");
  state.gpu.driverVersion = "latest";
  assert.throws(() => sliceAction({ ...base, state }), /Cannot make a semantic version of "latest"/);
});

Deno.test("sliceName() stays a valid object name for the longest node names", () => {
  assert.equal(sliceName("n"), "n-gpu.nvidia.com");
  const long = sliceName("a".repeat(253));
  assert.equal(long, sliceName("a".repeat(253)));
  assert.ok(long.length <= 253 && long.startsWith("gpu.nvidia.com-"), long);
});
