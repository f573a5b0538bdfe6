import assert from "node:assert/strict";
import { RecentWrites } from "./recent_writes.ts";

Deno.test("RecentWrites: a write stays pending until the watch shows that version or a newer one", () => {
  const writes = new RecentWrites<string>();
  assert.equal(writes.pending("n1", "10"), undefined);
  writes.record("n1", "labels-v2", "12");
  assert.equal(writes.pending("n1", "10"), "labels-v2");
  assert.equal(writes.pending("n1", undefined), "labels-v2", "a created object the watch has not shown yet");
  assert.equal(writes.pending("n1", "12"), undefined);
  assert.equal(writes.pending("n1", "10"), undefined, "dropped once caught up");
  writes.record("n1", "labels-v3", "100");
  assert.equal(writes.pending("n1", "99"), "labels-v3", "compared as numbers, not as text");
  writes.forget("n1");
  assert.equal(writes.pending("n1", "99"), undefined);
});
