import assert from "node:assert/strict";
import { assignGpus, containerForEachGpu, podGpuDemand, type PodLike, slimPod } from "./allocation.ts";
import type { NodeGpuDevice } from "./node_state.ts";

function devices(n: number): NodeGpuDevice[] {
  return Array.from({ length: n }, (_, index) => ({
    index,
    uuid: `GPU-00000000-0000-0000-0000-${String(index).padStart(12, "0")}`,
    pciBusId: `00000000:${(0x10 + index).toString(16).toUpperCase()}:00.0`,
    serial: String(1000000000000 + index),
  }));
}

function pod(
  name: string,
  gpus: number[],
  extra: Partial<PodLike["spec"]> = {},
  created = "2026-01-01T00:00:00Z",
): PodLike {
  return {
    metadata: { name, namespace: "default", uid: `uid-${name}`, creationTimestamp: created },
    spec: {
      nodeName: "n1",
      containers: gpus.map((g, i) => ({
        name: `c${i}`,
        resources: { limits: { "nvidia.com/gpu": String(g) } },
      })),
      ...extra,
    },
    status: { phase: "Running" },
  };
}

Deno.test("podGpuDemand() sums every app container, not just the first", () => {
  assert.equal(podGpuDemand(pod("p", [1, 2, 0])).total, 3);
});

Deno.test("podGpuDemand() lets init containers reuse the app containers' GPUs", () => {
  const p = pod("p", [2], {
    initContainers: [{ name: "init", resources: { limits: { "nvidia.com/gpu": "3" } } }],
  });
  assert.equal(podGpuDemand(p).total, 3);
  const q = pod("q", [2], {
    initContainers: [{ name: "init", resources: { limits: { "nvidia.com/gpu": "1" } } }],
  });
  assert.equal(podGpuDemand(q).total, 2);
});

Deno.test("podGpuDemand() counts sidecars alongside app containers and before later init containers", () => {
  const p = pod("p", [1], {
    initContainers: [
      { name: "side", restartPolicy: "Always", resources: { limits: { "nvidia.com/gpu": "1" } } },
      { name: "init", resources: { limits: { "nvidia.com/gpu": "2" } } },
    ],
  });
  // sidecar + app = 2; sidecar (started before init) + init = 3
  assert.equal(podGpuDemand(p).total, 3);
});

Deno.test("podGpuDemand() reads requests when no limit is set and ignores non-GPU resources", () => {
  const p: PodLike = {
    spec: { containers: [{ name: "a", resources: { requests: { "nvidia.com/gpu": 2, cpu: "4" } } }] },
  };
  assert.equal(podGpuDemand(p).total, 2);
  assert.equal(podGpuDemand({ spec: { containers: [{ name: "a" }] } }).total, 0);
});

Deno.test("containerForEachGpu() gives apps disjoint GPUs and init containers the ones after sidecars", () => {
  const demand = podGpuDemand(pod("p", [1, 1], {
    initContainers: [
      { name: "side", restartPolicy: "Always", resources: { limits: { "nvidia.com/gpu": "1" } } },
      { name: "init", resources: { limits: { "nvidia.com/gpu": "3" } } },
    ],
  }));
  assert.equal(demand.total, 4);
  assert.deepEqual(containerForEachGpu(demand, 4), ["side", "c0", "c1", "init"]);
});

Deno.test("assignGpus() gives the oldest pod the lowest free indexes", () => {
  const { devices: out, unsatisfied } = assignGpus(devices(4), [
    pod("young", [1], {}, "2026-01-02T00:00:00Z"),
    pod("old", [2], {}, "2026-01-01T00:00:00Z"),
  ]);
  assert.deepEqual(out.map((d) => d.holders?.[0].pod), ["old", "old", "young", undefined]);
  assert.deepEqual(unsatisfied, []);
});

Deno.test("assignGpus() keeps existing assignments and frees GPUs of pods that are gone", () => {
  const start = devices(4);
  start[3].holders = [{ namespace: "default", pod: "kept", podUid: "uid-kept", container: "c0" }];
  start[0].holders = [{ namespace: "default", pod: "gone", podUid: "uid-gone", container: "c0" }];
  const { devices: out } = assignGpus(start, [pod("kept", [1]), pod("new", [1])]);
  assert.deepEqual(out.map((d) => d.holders?.[0].pod), ["new", undefined, undefined, "kept"]);
});

Deno.test("assignGpus() frees the GPUs of finished pods", () => {
  const start = assignGpus(devices(2), [pod("job", [2])]).devices;
  const done = { ...pod("job", [2]), status: { phase: "Succeeded" } };
  assert.deepEqual(assignGpus(start, [done]).devices.map((d) => d.holders), [undefined, undefined]);
});

Deno.test("assignGpus() is stable: running it again on its own output changes nothing", () => {
  const pods = [pod("a", [1, 1]), pod("b", [3]), pod("c", [1])];
  const once = assignGpus(devices(8), pods).devices;
  assert.deepEqual(assignGpus(once, [...pods].reverse()).devices, once);
});

Deno.test("assignGpus() reports a pod that does not fit and assigns it nothing", () => {
  const { devices: out, unsatisfied } = assignGpus(devices(2), [
    pod("a", [1]),
    pod("big", [2], {}, "2026-02-01T00:00:00Z"),
  ]);
  assert.deepEqual(out.map((d) => d.holders?.[0].pod), ["a", undefined]);
  assert.deepEqual(unsatisfied, [{ pod: "default/big", needed: 2, held: 0 }]);
});

Deno.test("assignGpus() records the utilization the caller derives for a pod", () => {
  const { devices: out } = assignGpus(devices(1), [pod("a", [1])], {
    utilizationOf: () => ({ min: 10, max: 30 }),
  });
  assert.deepEqual(out[0].holders?.[0].utilization, { min: 10, max: 30 });
});

Deno.test("assignGpus() ignores pods not bound to a node", () => {
  const unbound = { ...pod("u", [1]), spec: { containers: pod("u", [1]).spec!.containers } };
  const { devices: out } = assignGpus(devices(1), [unbound]);
  assert.equal(out[0].holders, undefined);
});

Deno.test("slimPod() keeps what assignment reads and drops the rest", () => {
  const full = {
    ...pod("p", [2], { initContainers: [{ name: "side", restartPolicy: "Always" }] }),
    metadata: {
      name: "p",
      namespace: "default",
      uid: "u",
      resourceVersion: "7",
      creationTimestamp: "2026-01-01T00:00:00Z",
      annotations: { keep: "1", drop: "2" },
      managedFields: [{ manager: "kubectl" }],
    },
  };
  const slim = slimPod(full, ["keep"]);
  assert.deepEqual(slim.metadata, {
    name: "p",
    namespace: "default",
    uid: "u",
    resourceVersion: "7",
    creationTimestamp: "2026-01-01T00:00:00Z",
    annotations: { keep: "1" },
  });
  assert.deepEqual(podGpuDemand(slim), podGpuDemand(full));
  assert.equal(slim.spec?.initContainers?.[0].restartPolicy, "Always");
});
