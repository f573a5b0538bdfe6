import assert from "node:assert/strict";
import { parseTopology } from "../core/topology_config.ts";
import { plainUses, type PodLike } from "../core/allocation.ts";
import { findGpuModel } from "../core/catalogue.ts";
import { gpuReadings } from "../core/telemetry.ts";
import { desiredNodeState, labelsToApply, parseMemoryUse, parseUtilization } from "./reconcile.ts";

const a100 = parseTopology({
  nodePools: {
    a100: { gpuProduct: "a100-80gb", gpuCount: 8, otherDevices: [{ name: "rdma/hca", count: 1 }] },
  },
}).pools.a100;

/** The node every test decides for. */
const base = { node: "kwok-a100-0", poolName: "a100", pool: a100, migStrategy: "none" as const, kwok: true };

function gpuPod(name: string, gpus: number, annotations: Record<string, string> = {}): PodLike {
  return {
    metadata: {
      name,
      namespace: "team",
      uid: `uid-${name}`,
      creationTimestamp: "2026-01-01T00:00:00Z",
      annotations,
    },
    spec: {
      nodeName: "kwok-a100-0",
      containers: [{ name: "main", resources: { limits: { "nvidia.com/gpu": gpus } } }],
    },
    status: { phase: "Running" },
  };
}

Deno.test("desiredNodeState() gives a pool node its pool's GPUs with stable identities", () => {
  const input = { ...base, pods: [] };
  const { state } = desiredNodeState(input);
  assert.equal(state.devices.length, 8);
  assert.equal(state.gpu.product, "NVIDIA A100-SXM4-80GB");
  assert.deepEqual(state.otherResources, { "rdma/hca": 1 });
  assert.deepEqual(desiredNodeState(input).state, state);
  assert.equal(new Set(state.devices.map((d) => d.uuid)).size, 8);
});

Deno.test("desiredNodeState() keeps a pod's GPUs across a rebuild from the previous state", () => {
  const first = desiredNodeState({ ...base, pods: [gpuPod("a", 2), gpuPod("b", 1)] }).state;
  const again = desiredNodeState({ ...base, previous: first, pods: [gpuPod("b", 1), gpuPod("a", 2)] }).state;
  assert.deepEqual(again, first);
  const afterA = desiredNodeState({ ...base, previous: first, pods: [gpuPod("b", 1)] }).state;
  assert.deepEqual(afterA.devices.map((d) => d.holders?.[0].pod ?? "-"), [
    "-",
    "-",
    "b",
    "-",
    "-",
    "-",
    "-",
    "-",
  ]);
});

Deno.test("desiredNodeState() shrinks to a smaller pool and reports pods that no longer fit", () => {
  const base = { node: "kwok-a100-0", poolName: "a100", migStrategy: "none" as const, kwok: true };
  const first = desiredNodeState({ ...base, pool: a100, pods: [gpuPod("a", 6)] }).state;
  const small = { ...a100, gpuCount: 4 };
  const { state, unsatisfied } = desiredNodeState({
    ...base,
    pool: small,
    previous: first,
    pods: [gpuPod("a", 6)],
  });
  assert.equal(state.devices.length, 4);
  assert.deepEqual(unsatisfied, [{ pod: "team/a", needed: 6, held: 4 }]);
});

Deno.test("labelsToApply() writes only when a label is missing, different or stale", () => {
  const desired = { "nvidia.com/gpu.count": "8" };
  assert.equal(
    labelsToApply({ "nvidia.com/gpu.count": "8", other: "x" }, new Set(["nvidia.com/gpu.count"]), desired),
    undefined,
  );
  assert.deepEqual(labelsToApply({ "nvidia.com/gpu.count": "4" }, new Set(), desired), desired);
  assert.deepEqual(labelsToApply({}, new Set(), desired), desired);
  assert.deepEqual(
    labelsToApply({ "nvidia.com/gpu.count": "8", old: "1" }, new Set(["old"]), desired),
    desired,
  );
  assert.equal(labelsToApply({ "nvidia.com/gpu": "8" }, new Set(), {}), undefined);
  assert.deepEqual(labelsToApply({ mine: "1" }, new Set(["mine"]), {}), {});
});

Deno.test("parseUtilization() accepts a percentage or a range", () => {
  assert.deepEqual(parseUtilization(gpuPod("p", 1, { "run.ai/simulated-gpu-utilization": "70" })), {
    range: { min: 70, max: 70 },
  });
  assert.deepEqual(parseUtilization(gpuPod("p", 1, { "run.ai/simulated-gpu-utilization": "10-30" })), {
    range: { min: 10, max: 30 },
  });
  assert.deepEqual(parseUtilization(gpuPod("p", 1)), {});
});

Deno.test("parseUtilization() rejects bad values with a reason instead of throwing", () => {
  for (
    const [value, reason] of [["80-20", "exceeds"], ["150", "between 0 and 100"], ["lots", "percentage"], [
      "-5",
      "percentage",
    ]]
  ) {
    const result = parseUtilization(gpuPod("p", 1, { "run.ai/simulated-gpu-utilization": value }));
    assert.equal(result.range, undefined);
    assert.match(result.error ?? "", new RegExp(reason));
    assert.match(result.error ?? "", new RegExp(`"${value}"`));
  }
});

Deno.test("desiredNodeState() stamps when a pod got its GPUs and keeps it while the pod holds them", () => {
  const t1 = new Date("2026-12-03T10:00:00Z");
  const first = desiredNodeState({ ...base, pods: [gpuPod("a", 1)], now: t1 }).state;
  assert.equal(first.devices[0].holders?.[0].since, t1.toISOString());
  const later = desiredNodeState({ ...base, previous: first, pods: [gpuPod("a", 1)], now: new Date() }).state;
  assert.deepEqual(later, first, "nothing changes while the pod runs");
});

Deno.test("desiredNodeState() folds a leaving holder's energy in, so the energy counter never falls", () => {
  const model = findGpuModel("a100-80gb")!;
  const t1 = new Date("2026-12-03T10:00:00Z");
  const t2 = new Date("2026-12-03T11:00:00Z");
  const held = desiredNodeState({ ...base, pods: [gpuPod("a", 1)], now: t1 }).state;
  const freed = desiredNodeState({ ...base, previous: held, pods: [], now: t2 }).state;
  assert.equal(freed.devices[0].holders, undefined);
  const before = gpuReadings(model, held.devices[0], t2.getTime() / 1000)!.energyMJ;
  const after = gpuReadings(model, freed.devices[0], t2.getTime() / 1000)!.energyMJ;
  assert.ok(after >= before && after - before < 1000, `${before} → ${after}`);
  assert.ok((freed.devices[0].busyEnergyJ ?? 0) > 3600 * 100, "an hour at 100% drew well above idle");
});

Deno.test("desiredNodeState() puts the node's faults on its GPUs and records when they began", () => {
  const t1 = new Date("2026-12-03T10:00:00Z");
  const faults = new Map([[3, { xid: 79 }]]);
  const first = desiredNodeState({ ...base, pods: [], faults, now: t1 }).state;
  assert.deepEqual(first.devices[3].faults, { xid: 79 });
  assert.equal(first.devices[3].faultsSince, t1.toISOString());
  assert.equal(first.devices[2].faults, undefined);
  const same = desiredNodeState({ ...base, previous: first, pods: [], faults, now: new Date() }).state;
  assert.deepEqual(same, first);
  const cleared = desiredNodeState({ ...base, previous: first, pods: [], now: new Date() }).state;
  assert.equal(cleared.devices[3].faults, undefined);
  assert.equal(cleared.devices[3].faultsSince, undefined);
});

Deno.test("parseMemoryUse() reads a share or a size and rejects what does not fit", () => {
  const model = findGpuModel("a100-80gb")!;
  const pod = (value: string) => gpuPod("p", 1, { "fakegpu.io/simulated-gpu-memory": value });
  assert.deepEqual(parseMemoryUse(pod("20Gi"), model), { mib: 20480 });
  assert.deepEqual(parseMemoryUse(pod("4096Mi"), model), { mib: 4096 });
  assert.deepEqual(parseMemoryUse(pod("4096"), model), { mib: 4096 });
  assert.ok(Math.abs(parseMemoryUse(pod("50%"), model).mib! - 40690) < 10);
  assert.deepEqual(parseMemoryUse(gpuPod("p", 1), model), {});
  for (
    const [value, reason] of [["lots", "expected"], ["200Gi", "exceeds"], ["120%", "exceeds"], [
      "-5",
      "expected",
    ]]
  ) {
    const result = parseMemoryUse(pod(value), model);
    assert.equal(result.mib, undefined);
    assert.match(result.error ?? "", new RegExp(reason), value);
  }
});

Deno.test("desiredNodeState() records a pod's memory use on each of its GPUs", () => {
  const model = findGpuModel("a100-80gb")!;
  const pod = gpuPod("a", 2, { "fakegpu.io/simulated-gpu-memory": "30Gi" });
  const { state } = desiredNodeState({
    ...base,
    pods: [pod],
    memoryOf: (p) => parseMemoryUse(p, model).mib,
  });
  assert.deepEqual(state.devices.slice(0, 2).map((d) => d.holders?.[0].memoryUsedMiB), [30720, 30720]);
});

function claimPod(name: string): PodLike {
  const pod = gpuPod(name, 0);
  pod.spec!.containers = [{ name: "main" }];
  return pod;
}

Deno.test("desiredNodeState() gives claimed GPUs to the claim's pods, the first holding and the others sharing", () => {
  const pods = [gpuPod("limits", 1), claimPod("a"), claimPod("b"), claimPod("c")];
  const claimed = plainUses(new Map([[0, ["uid-a"]], [3, ["uid-b", "uid-c"]]]));
  const { state } = desiredNodeState({ ...base, pods, claimed });
  const holders = state.devices.map((d) => (d.holders ?? []).map((h) => h.pod));
  assert.deepEqual(holders.slice(0, 4), [["a"], ["limits"], [], ["b", "c"]]);
  assert.deepEqual(state.devices[3].holders?.map((h) => h.container), ["main", "main"]);
});

Deno.test("desiredNodeState() places a DRA-backed nvidia.com/gpu pod on its claim's GPU only", () => {
  const { state } = desiredNodeState({
    ...base,
    pods: [gpuPod("limits", 1)],
    claimed: plainUses(new Map([[6, ["uid-limits"]]])),
  });
  assert.deepEqual(state.devices.filter((d) => d.holders).map((d) => [d.index, d.holders?.[0].pod]), [[
    6,
    "limits",
  ]]);
});

Deno.test("desiredNodeState() frees a claimed GPU once its pods finished", () => {
  const done = claimPod("a");
  done.status = { phase: "Succeeded" };
  const { state } = desiredNodeState({
    ...base,
    pods: [done],
    claimed: plainUses(new Map([[0, ["uid-a", "uid-gone"]]])),
  });
  assert.equal(state.devices[0].holders, undefined);
});

Deno.test("desiredNodeState() lists every pod sharing a GPU with the memory and share it was granted", () => {
  const pods = [claimPod("a"), claimPod("b")];
  const claimed = new Map([[2, [{ podUid: "uid-a", memoryMiB: 40000, share: 0.5 }, {
    podUid: "uid-b",
    share: 0.25,
  }]]]);
  const { state } = desiredNodeState({ ...base, pods, claimed });
  assert.deepEqual(
    state.devices[2].holders?.map((h) => [h.pod, h.memoryUsedMiB, h.share]),
    [["a", 40000, 0.5], ["b", undefined, 0.25]],
  );
  const model = findGpuModel("a100-80gb")!;
  const readings = gpuReadings(model, state.devices[2], Date.now() / 1000)!;
  assert.equal(readings.gpuUtil, 75, "each pod loads the GPU by its share");
  assert.ok(readings.fb.used > 40000, "the GPU's memory in use is its holders' together");
});

Deno.test("the energy counter stays continuous when one of two pods sharing a GPU leaves", () => {
  const model = findGpuModel("a100-80gb")!;
  const both = plainUses(new Map([[0, ["uid-a", "uid-b"]]]));
  const t1 = new Date("2026-12-03T10:00:00Z");
  const t2 = new Date("2026-12-03T11:00:00Z");
  const pods = [claimPod("a"), claimPod("b")];
  const shared = desiredNodeState({ ...base, pods, claimed: both, now: t1 }).state;
  const alone = desiredNodeState({
    ...base,
    previous: shared,
    pods: [pods[0]],
    claimed: plainUses(new Map([[0, ["uid-a"]]])),
    now: t2,
  }).state;
  assert.equal(alone.devices[0].holders?.[0].since, t1.toISOString(), "the pod that stays keeps its start");
  assert.equal(alone.devices[0].loadSince, t2.toISOString());
  for (const t of [t2.getTime() / 1000, t2.getTime() / 1000 + 600]) {
    const before = gpuReadings(model, shared.devices[0], t2.getTime() / 1000)!.energyMJ;
    const after = gpuReadings(model, alone.devices[0], t)!.energyMJ;
    assert.ok(after >= before, `${before} → ${after} at ${t}`);
  }
  const atSwitch = gpuReadings(model, alone.devices[0], t2.getTime() / 1000)!.energyMJ;
  const atSwitchBefore = gpuReadings(model, shared.devices[0], t2.getTime() / 1000)!.energyMJ;
  assert.ok(atSwitch - atSwitchBefore < 1000, "no jump when the load changes");
});
