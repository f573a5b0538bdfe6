import assert from "node:assert/strict";
import type { KubeObject } from "./client.ts";
import { diffRelist, objectKey } from "./reflector.ts";

function obj(name: string, resourceVersion: string, namespace?: string): KubeObject {
  return { metadata: { name, namespace, resourceVersion } };
}

Deno.test("objectKey() uses namespace/name for namespaced objects", () => {
  assert.equal(objectKey(obj("cm", "1", "ns")), "ns/cm");
});

Deno.test("objectKey() uses the name for cluster-scoped objects", () => {
  assert.equal(objectKey(obj("node-a", "1")), "node-a");
});

Deno.test("diffRelist() upserts everything into an empty store", () => {
  const items = [obj("a", "1"), obj("b", "2")];
  assert.deepEqual(diffRelist(new Map(), items), [
    { type: "upsert", key: "a", object: items[0] },
    { type: "upsert", key: "b", object: items[1] },
  ]);
});

Deno.test("diffRelist() skips unchanged objects and reports changed and vanished ones", () => {
  const store = new Map([["a", obj("a", "1")], ["b", obj("b", "2")], ["c", obj("c", "3")]]);
  const items = [obj("a", "1"), obj("b", "5"), obj("d", "6")];
  assert.deepEqual(diffRelist(store, items), [
    { type: "upsert", key: "b", object: items[1], previous: store.get("b") },
    { type: "upsert", key: "d", object: items[2] },
    { type: "delete", key: "c", object: store.get("c") },
  ]);
});

Deno.test("diffRelist() returns nothing when the store matches", () => {
  const store = new Map([["ns/a", obj("a", "1", "ns")]]);
  assert.deepEqual(diffRelist(store, [obj("a", "1", "ns")]), []);
});
