import assert from "node:assert/strict";
import type { PodLike } from "../core/allocation.ts";
import { findGpuModel } from "../core/catalogue.ts";
import { gpuDevices } from "../core/identity.ts";
import { parseTopology } from "../core/topology_config.ts";
import { gpuReadings } from "../core/telemetry.ts";
import { fractionalGpus, reservationsToAnnotate } from "./kai_fractions.ts";
import { desiredNodeState } from "./reconcile.ts";

const NS = "runai-reservation";
const model = findGpuModel("a100-80gb")!;
const devices = gpuDevices("kwok-a100-0", model, 8);

function pod(
  name: string,
  namespace: string,
  options: { group?: string; gpus?: number; annotations?: Record<string, string> } = {},
): PodLike {
  return {
    metadata: {
      name,
      namespace,
      uid: `uid-${name}`,
      creationTimestamp: "2026-12-03T10:00:00Z",
      annotations: options.annotations ?? {},
      labels: options.group ? { "runai-gpu-group": options.group } : {},
    },
    spec: {
      nodeName: "kwok-a100-0",
      containers: [{
        name: "main",
        resources: options.gpus ? { limits: { "nvidia.com/gpu": options.gpus } } : {},
      }],
    },
    status: { phase: "Running" },
  };
}

const reservation = (annotations: Record<string, string> = {}) =>
  pod("runai-reservation-gpu-abc", NS, { group: "g1", gpus: 1, annotations });

Deno.test("a reservation pod that holds a GPU is annotated with that GPU's UUID, once", () => {
  const state = desiredNodeState({
    node: "kwok-a100-0",
    poolName: "a100",
    pool: parseTopology({ nodePools: { a100: { gpuProduct: "a100-80gb", gpuCount: 8 } } }).pools.a100,
    migStrategy: "none",
    kwok: true,
    pods: [pod("whole", "team", { gpus: 1 }), reservation()],
  }).state;
  const held = state.devices.find((d) => d.holders?.[0].pod === "runai-reservation-gpu-abc")!;
  const todo = reservationsToAnnotate([reservation()], state.devices, NS);
  assert.deepEqual(todo.map((t) => t.uuid), [held.uuid]);
  const annotated = reservation({ "run.ai/reserve_for_gpu_index": held.uuid });
  assert.deepEqual(reservationsToAnnotate([annotated], state.devices, NS), []);
  assert.deepEqual(reservationsToAnnotate([reservation()], state.devices, "other-namespace"), []);
});

Deno.test("fraction pods of a group use the reserved GPU with their fraction of its memory", () => {
  const pods = [
    reservation({ "run.ai/reserve_for_gpu_index": devices[3].uuid }),
    pod("half", "team", { group: "g1", annotations: { "gpu-fraction": "0.5" } }),
    pod("quarter", "team", { group: "g1", annotations: { "gpu-memory": "20480" } }),
    pod("elsewhere", "team", { group: "g2", annotations: { "gpu-fraction": "0.5" } }),
  ];
  const result = fractionalGpus(pods, devices, model.memoryMiB, NS);
  assert.deepEqual([...result.reservations], ["uid-runai-reservation-gpu-abc"]);
  assert.deepEqual(
    result.reserved,
    new Map([[3, [
      { podUid: "uid-half", share: 0.5, memoryMiB: 40960 },
      { podUid: "uid-quarter", share: 0.25, memoryMiB: 20480 },
    ]]]),
  );
  assert.deepEqual(result.problems, []);
});

Deno.test("a reserved GPU stays out of reach of other pods while the group has no running fraction pod", () => {
  const pool = parseTopology({ nodePools: { a100: { gpuProduct: "a100-80gb", gpuCount: 1 } } }).pools.a100;
  const held = reservation({ "run.ai/reserve_for_gpu_index": gpuDevices("kwok-a100-0", model, 1)[0].uuid });
  const fractions = fractionalGpus([held], gpuDevices("kwok-a100-0", model, 1), model.memoryMiB, NS);
  const { state, unsatisfied } = desiredNodeState({
    node: "kwok-a100-0",
    poolName: "a100",
    pool,
    migStrategy: "none",
    kwok: true,
    pods: [pod("whole", "team", { gpus: 1 })],
    claimed: fractions.reserved,
  });
  assert.equal(state.devices[0].holders, undefined);
  assert.deepEqual(unsatisfied, [{ pod: "team/whole", needed: 1, held: 0 }]);
});

Deno.test("the node state lists the fraction pods on the reserved GPU; the readings add their memory up", () => {
  const pool = parseTopology({ nodePools: { a100: { gpuProduct: "a100-80gb", gpuCount: 8 } } }).pools.a100;
  const pods = [
    reservation({ "run.ai/reserve_for_gpu_index": devices[0].uuid }),
    pod("a", "team", { group: "g1", annotations: { "gpu-fraction": "0.5" } }),
    pod("b", "team", { group: "g1", annotations: { "gpu-fraction": "0.25" } }),
  ];
  const fractions = fractionalGpus(pods, devices, model.memoryMiB, NS);
  const { state } = desiredNodeState({
    node: "kwok-a100-0",
    poolName: "a100",
    pool,
    migStrategy: "none",
    kwok: true,
    pods: pods.filter((p) => !fractions.reservations.has(p.metadata!.uid!)),
    claimed: fractions.reserved,
  });
  assert.deepEqual(state.devices[0].holders?.map((h) => [h.pod, h.share, h.memoryUsedMiB]), [
    ["a", 0.5, 40960],
    ["b", 0.25, 20480],
  ]);
  assert.ok(state.devices.slice(1).every((d) => !d.holders), "the reservation takes no second GPU");
  assert.equal(gpuReadings(model, state.devices[0], Date.now() / 1000)!.fb.used, 40960 + 20480);
});

Deno.test("unreadable fractions and reservations are problems, never throws", () => {
  const pods = [
    reservation({ "run.ai/reserve_for_gpu_index": "GPU-00000000-0000-0000-0000-000000000000" }),
    pod("other-res", NS, {
      group: "g2",
      gpus: 1,
      annotations: { "run.ai/reserve_for_gpu_index": devices[1].uuid },
    }),
    pod("bad", "team", { group: "g2", annotations: { "gpu-fraction": "1.5" } }),
    pod("huge", "team", { group: "g2", annotations: { "gpu-memory": "999999" } }),
  ];
  const result = fractionalGpus(pods, devices, model.memoryMiB, NS);
  assert.deepEqual(result.problems.map((p) => p.pod.metadata?.name), [
    "runai-reservation-gpu-abc",
    "bad",
    "huge",
  ]);
  assert.match(result.problems[0].message, /not a GPU of this node/);
  assert.match(result.problems[1].message, /gpu-fraction: expected a number in \(0, 1\], got "1.5"/);
  assert.match(result.problems[2].message, /gpu-memory: more than the GPU's 81920 MiB/);
  assert.deepEqual(result.reserved.get(1), [{ podUid: "uid-bad" }, { podUid: "uid-huge" }]);
});
