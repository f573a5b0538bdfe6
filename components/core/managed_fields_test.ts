import assert from "node:assert/strict";
import { ownedMapKeys } from "./managed_fields.ts";

const node = {
  metadata: {
    managedFields: [
      {
        manager: "fakegpu",
        operation: "Apply",
        fieldsV1: { "f:metadata": { "f:labels": { "f:a": {}, "f:b": {} } } },
      },
      {
        manager: "fakegpu",
        operation: "Apply",
        subresource: "status",
        fieldsV1: { "f:status": { "f:capacity": { "f:nvidia.com/gpu": {} }, "f:allocatable": { ".": {} } } },
      },
      { manager: "kubectl", operation: "Update", fieldsV1: { "f:metadata": { "f:labels": { "f:c": {} } } } },
      { manager: "fakegpu", operation: "Update", fieldsV1: { "f:metadata": { "f:labels": { "f:d": {} } } } },
    ],
  },
};

Deno.test("ownedMapKeys() returns the label keys a manager applied on the main resource", () => {
  assert.deepEqual([...ownedMapKeys(node, "fakegpu", ["metadata", "labels"])], ["a", "b"]);
});

Deno.test("ownedMapKeys() reads status subresource entries only when asked", () => {
  assert.deepEqual([...ownedMapKeys(node, "fakegpu", ["status", "capacity"], { subresource: "status" })], [
    "nvidia.com/gpu",
  ]);
  assert.deepEqual([...ownedMapKeys(node, "fakegpu", ["status", "capacity"])], []);
  assert.deepEqual(
    [...ownedMapKeys(node, "fakegpu", ["status", "allocatable"], { subresource: "status" })],
    [],
  );
});

Deno.test("ownedMapKeys() ignores other managers and objects without managed fields", () => {
  assert.deepEqual([...ownedMapKeys(node, "other", ["metadata", "labels"])], []);
  assert.deepEqual([...ownedMapKeys({}, "fakegpu", ["metadata", "labels"])], []);
});
