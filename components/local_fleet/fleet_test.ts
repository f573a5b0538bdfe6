import assert from "node:assert/strict";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../core/topology_config.ts";
import { fleetNodes, fleetTable } from "./fleet.ts";

Deno.test("fleetNodes() plans the default fleet: 5 KWOK nodes, 32 GPUs", () => {
  const plan = fleetNodes(parseTopologyYaml(DEFAULT_TOPOLOGY_YAML));
  assert.deepEqual(plan.map((p) => `${p.name}:${p.gpus}`), [
    "kwok-a100-0:8",
    "kwok-a100-1:8",
    "kwok-h100-0:8",
    "kwok-l40s-0:4",
    "kwok-l40s-1:4",
  ]);
  const node = plan[0].object as {
    metadata: { labels: Record<string, string>; annotations: Record<string, string> };
    spec: { taints: unknown[] };
    status: { allocatable: Record<string, string> };
  };
  assert.equal(node.metadata.labels["gpu-pool"], "a100");
  assert.equal(node.metadata.labels["run.ai/simulated-gpu-node-pool"], "a100");
  assert.equal(node.metadata.annotations["kwok.x-k8s.io/node"], "fake");
  assert.deepEqual(node.spec.taints, [{ key: "kwok.x-k8s.io/node", value: "fake", effect: "NoSchedule" }]);
  assert.equal(node.status.allocatable["nvidia.com/gpu"], undefined);
});

Deno.test("fleetTable() lists every node and the totals", () => {
  const table = fleetTable(fleetNodes(parseTopologyYaml(DEFAULT_TOPOLOGY_YAML)));
  assert.match(table, /^NODE\s+POOL\s+PRODUCT\s+GPUS\s+MEMORY\/GPU$/m);
  assert.match(table, /kwok-h100-0\s+h100\s+NVIDIA H100 80GB HBM3\s+8\s+\d+ MiB/);
  assert.match(table, /5 nodes, 32 GPUs$/);
});

Deno.test("fleetNodes() carries each pool's gpuOffer, extended-resource when unset", () => {
  const plan = fleetNodes(parseTopologyYaml(`gpuOffer: dra\n${DEFAULT_TOPOLOGY_YAML}`));
  assert.deepEqual(new Set(plan.map((p) => p.gpuOffer)), new Set(["dra"]));
  const plain = fleetNodes(parseTopologyYaml(DEFAULT_TOPOLOGY_YAML));
  assert.deepEqual(new Set(plain.map((p) => p.gpuOffer)), new Set(["extended-resource"]));
});
