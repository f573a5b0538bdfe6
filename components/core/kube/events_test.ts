import assert from "node:assert/strict";
import { buildEvent } from "./events.ts";

Deno.test("buildEvent() fills a core/v1 Event for a cluster-scoped object", () => {
  const body = buildEvent({
    namespace: "default",
    involved: { kind: "Node", name: "kwok-a100-0", uid: "u1", apiVersion: "v1" },
    reason: "GpuAdvertised",
    message: "8 GPUs",
    component: "fakegpu-device-plugin",
  }, new Date(Date.UTC(2026, 10, 23, 10, 0, 0, 123)));
  assert.equal(body.kind, "Event");
  assert.equal(body.type, "Normal");
  assert.equal(body.firstTimestamp, "2026-11-23T10:00:00Z");
  assert.deepEqual(body.source, { component: "fakegpu-device-plugin" });
  assert.deepEqual(body.involvedObject, { kind: "Node", name: "kwok-a100-0", uid: "u1", apiVersion: "v1" });
  const metadata = body.metadata as { name: string; namespace: string };
  assert.equal(metadata.namespace, "default");
  assert.match(metadata.name, /^kwok-a100-0\.[0-9a-f]+$/);
});
