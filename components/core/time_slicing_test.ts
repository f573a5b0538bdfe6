import assert from "node:assert/strict";
import { parseTopologyYaml } from "./topology_config.ts";
import { gpuNodeLabels } from "./gfd_labels.ts";
import { sharedGpus } from "./allocation.ts";
import type { NodeGpuDevice } from "./node_state.ts";

Deno.test("topology: replicas per pool in both formats, absent at 1, bad values named", () => {
  const topology = parseTopologyYaml(`
nodePools:
  legacy: { gpuProduct: a100-80gb, gpuCount: 8, replicas: 4 }
  modern: { gpu: { profile: h100 }, replicas: 2 }
  plain: { gpuProduct: l40s, gpuCount: 4, replicas: 1 }
`);
  assert.equal(topology.pools.legacy.replicas, 4);
  assert.equal(topology.pools.modern.replicas, 2);
  assert.equal(topology.pools.plain.replicas, undefined);
  assert.throws(
    () => parseTopologyYaml("nodePools:\n  a: { gpuProduct: a100-80gb, gpuCount: 8, replicas: 0 }\n"),
    /nodePools\.a\.replicas: expected a positive integer, got 0/,
  );
});

Deno.test("GFD labels of a time-sliced pool: replicas, sharing strategy, -SHARED product", () => {
  const pool =
    parseTopologyYaml("nodePools:\n  a: { gpuProduct: a100-80gb, gpuCount: 8, replicas: 4 }\n").pools.a;
  const labels = gpuNodeLabels({ pool, migStrategy: "none", kwok: true });
  assert.equal(labels["nvidia.com/gpu.replicas"], "4");
  assert.equal(labels["nvidia.com/gpu.sharing-strategy"], "time-slicing");
  assert.equal(labels["nvidia.com/gpu.product"], "NVIDIA-A100-SXM4-80GB-SHARED");
  assert.equal(labels["nvidia.com/gpu.count"], "8");
});

function gpuPod(uid: string, gpus: number, created: string) {
  return {
    metadata: { uid, name: uid, namespace: "default", creationTimestamp: created },
    spec: {
      nodeName: "n",
      containers: [{ name: "main", resources: { limits: { "nvidia.com/gpu": String(gpus) } } }],
    },
    status: { phase: "Running" },
  };
}

Deno.test("sharedGpus(): replicas spread over the freest GPUs, kept across decisions, full GPUs refused", () => {
  const pods = [gpuPod("a", 1, "2026-01-01T00:00:00Z"), gpuPod("b", 2, "2026-01-01T00:00:01Z")];
  const first = sharedGpus(pods, [], 2, 2);
  assert.deepEqual(first, new Map([[0, ["a", "b"]], [1, ["b"]]]));
  const previous: NodeGpuDevice[] = [...first].map(([index, [holder, ...rest]]) => ({
    index,
    uuid: `GPU-${index}`,
    pciBusId: "",
    serial: "",
    holders: [holder, ...rest].map((uid) => ({
      namespace: "default",
      pod: uid,
      podUid: uid,
      container: "main",
    })),
  }));
  const more = [...pods, gpuPod("c", 1, "2026-01-01T00:00:02Z"), gpuPod("d", 1, "2026-01-01T00:00:03Z")];
  // a and b keep their GPUs; c takes GPU 1's last replica; d finds every replica taken.
  assert.deepEqual(sharedGpus(more, previous, 2, 2), new Map([[0, ["a", "b"]], [1, ["b", "c"]]]));
});
