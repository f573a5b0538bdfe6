import assert from "node:assert/strict";
import { isKwokNode, nodeWritable, slimNode } from "./fleet_watch.ts";
import { sameApartFromVersion } from "./kube/reflector.ts";
import { ownedMapKeys } from "./managed_fields.ts";

const node = {
  metadata: {
    name: "kwok-a100-0",
    uid: "u1",
    resourceVersion: "42",
    labels: { "gpu-pool": "a100" },
    annotations: {
      "kwok.x-k8s.io/node": "fake",
      "kubectl.kubernetes.io/last-applied-configuration": "{...}",
    },
    managedFields: [
      { manager: "kwok", operation: "Update", fieldsV1: { "f:status": {} } },
      {
        manager: "fakegpu",
        operation: "Apply",
        fieldsV1: { "f:metadata": { "f:labels": { "f:nvidia.com/gpu.count": {} } } },
      },
    ],
  },
  spec: { taints: [{ key: "kwok.x-k8s.io/node", effect: "NoSchedule" }] },
  status: {
    capacity: { cpu: "96", "nvidia.com/gpu": "8" },
    allocatable: { cpu: "96", "nvidia.com/gpu": "8" },
    conditions: [{ type: "Ready", status: "True" }],
    images: [{ names: ["x"], sizeBytes: 1 }],
  },
};

Deno.test("slimNode() keeps what the roles read and drops the rest", () => {
  const slim = slimNode(node);
  assert.deepEqual(slim.metadata?.annotations, { "kwok.x-k8s.io/node": "fake" });
  assert.deepEqual(slim.metadata?.labels, { "gpu-pool": "a100" });
  assert.equal(slim.metadata?.resourceVersion, "42");
  assert.deepEqual(slim.status, { capacity: node.status.capacity, allocatable: node.status.allocatable });
  assert.equal((slim as Record<string, unknown>).spec, undefined);
  assert.equal(isKwokNode(slim), true);
  assert.deepEqual([...ownedMapKeys(slim, "fakegpu", ["metadata", "labels"])], ["nvidia.com/gpu.count"]);
  assert.equal(slim.metadata?.managedFields?.length, 1);
  const hami = {
    ...node,
    metadata: { ...node.metadata, annotations: { "hami.io/node-handshake": "Requesting_x" } },
  };
  assert.deepEqual(slimNode(hami).metadata?.annotations, hami.metadata.annotations);
});

Deno.test("isKwokNode() needs the annotation value fake", () => {
  assert.equal(isKwokNode({ metadata: { annotations: { "kwok.x-k8s.io/node": "real" } } }), false);
  assert.equal(isKwokNode({}), false);
});

Deno.test("sameApartFromVersion() of slim nodes ignores a heartbeat and sees a label, annotation or resource change", () => {
  const heartbeat = {
    ...node,
    metadata: { ...node.metadata, resourceVersion: "43" },
    status: { ...node.status, conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: "now" }] },
  };
  assert.equal(sameApartFromVersion(slimNode(node), slimNode(heartbeat)), true);
  const relabelled = { ...heartbeat, metadata: { ...heartbeat.metadata, labels: { "gpu-pool": "h100" } } };
  assert.equal(sameApartFromVersion(slimNode(node), slimNode(relabelled)), false);
  const faulted = {
    ...heartbeat,
    metadata: { ...heartbeat.metadata, annotations: { "fakegpu.io/gpu-faults": "{}" } },
  };
  assert.equal(sameApartFromVersion(slimNode(node), slimNode(faulted)), false);
  const advertised = { ...heartbeat, status: { ...heartbeat.status, allocatable: { cpu: "96" } } };
  assert.equal(sameApartFromVersion(slimNode(node), slimNode(advertised)), false);
  assert.equal(
    sameApartFromVersion(slimNode(node), slimNode(advertised), ["status"]),
    true,
    "status not read",
  );
});

Deno.test("slimNode() tells whether KWOK has initialized a node: a KWOK node is written only after", () => {
  assert.equal(slimNode(node).kwokInitialized, true);
  assert.equal(nodeWritable(slimNode(node)), true);
  const fresh = { ...node, status: { capacity: node.status.capacity } };
  assert.equal(slimNode(fresh).kwokInitialized, false);
  assert.equal(nodeWritable(slimNode(fresh)), false);
  const metadataOnly = { metadata: node.metadata };
  assert.equal(nodeWritable(slimNode(metadataOnly)), true, "unknown: written");
  const real = { ...fresh, metadata: { ...node.metadata, annotations: {} } };
  assert.equal(nodeWritable(slimNode(real)), true, "not a KWOK node: its kubelet runs the plugins");
});
