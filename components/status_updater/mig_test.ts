import assert from "node:assert/strict";
import type { PodLike } from "../core/allocation.ts";
import type { NodeGpuState } from "../core/node_state.ts";
import { parseTopology } from "../core/topology_config.ts";
import { decideMigConfig } from "./mig_config.ts";
import { desiredNodeState } from "./reconcile.ts";

const topology = parseTopology({
  migStrategy: "mixed",
  nodePools: {
    a100: { gpuProduct: "a100-80gb", gpuCount: 2, migConfig: "all-balanced" },
    l40s: { gpuProduct: "NVIDIA-L40S", gpuCount: 2 },
  },
});
const pool = topology.pools.a100;

function pod(name: string, limits: Record<string, number>): PodLike {
  return {
    metadata: { name, namespace: "team", uid: `uid-${name}`, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec: { nodeName: "kwok-a100-0", containers: [{ name: "main", resources: { limits } }] },
    status: { phase: "Running" },
  };
}

/** The node's state after status-updater's decision for its label, pods and MIG devices claimed through DRA. */
function reconcile(
  label: string | undefined,
  pods: PodLike[],
  previous?: NodeGpuState,
  claimedMig?: Map<string, string[]>,
) {
  const decision = decideMigConfig(pool, "mixed", label, previous?.devices ?? [], pods);
  const { state, unsatisfied } = desiredNodeState({
    node: "kwok-a100-0",
    poolName: "a100",
    pool,
    migStrategy: "mixed",
    kwok: true,
    previous,
    pods,
    migLayout: decision.layout,
    claimedMig,
  });
  return { state, unsatisfied, decision };
}

const profilesOf = (state: NodeGpuState) =>
  state.devices.map((d) => (d.mig ?? []).map((m) => m.profile).sort());

Deno.test("a mixed-MIG pool's node gets its pool's layout with MIG- UUIDs stable across rebuilds", () => {
  const { state, decision } = reconcile(undefined, []);
  assert.equal(decision.state, "success");
  assert.deepEqual(profilesOf(state), [
    ["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"],
    ["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"],
  ]);
  const uuids = state.devices.flatMap((d) => d.mig!.map((m) => m.uuid));
  assert.equal(new Set(uuids).size, 8);
  assert.ok(uuids.every((u) => u.startsWith("MIG-")));
  assert.deepEqual(reconcile(undefined, [], state).state, state);
});

Deno.test("a pod asking for nvidia.com/mig-1g.10gb holds one 1g.10gb device and keeps it; whole GPUs stay free", () => {
  const { state } = reconcile(undefined, [pod("a", { "nvidia.com/mig-1g.10gb": 1 })]);
  const held = state.devices.flatMap((d) => (d.mig ?? []).filter((m) => m.holder));
  assert.deepEqual(held.map((m) => [m.profile, m.holder?.pod, m.holder?.container]), [[
    "1g.10gb",
    "a",
    "main",
  ]]);
  assert.ok(state.devices.every((d) => !d.holders));
  const again = reconcile(undefined, [
    pod("b", { "nvidia.com/mig-1g.10gb": 1 }),
    pod("a", { "nvidia.com/mig-1g.10gb": 1 }),
  ], state);
  const a = again.state.devices.flatMap((d) => d.mig!).find((m) => m.holder?.pod === "a");
  assert.equal(a?.uuid, held[0].uuid);
  const tooMany = reconcile(undefined, [pod("c", { "nvidia.com/mig-3g.40gb": 3 })]);
  assert.deepEqual(tooMany.unsatisfied, [{ pod: "team/c", needed: 3, held: 0 }]);
  assert.ok(reconcile(undefined, [pod("w", { "nvidia.com/gpu": 1 })]).state.devices.every((d) => !d.holders));
});

Deno.test("nvidia.com/mig.config changes the layout; an impossible one fails and keeps the current layout", () => {
  const { state } = reconcile(undefined, []);
  const changed = reconcile("all-1g.10gb", [], state);
  assert.equal(changed.decision.state, "success");
  assert.deepEqual(profilesOf(changed.state), [Array(7).fill("1g.10gb"), Array(7).fill("1g.10gb")]);
  const failed = reconcile("all-9g.99gb", [], state);
  assert.equal(failed.decision.state, "failed");
  assert.match(
    failed.decision.reason!,
    /nvidia.com\/mig.config="all-9g.99gb": unknown MIG config "all-9g.99gb"/,
  );
  assert.deepEqual(profilesOf(failed.state), profilesOf(state));
  const disabled = reconcile("all-disabled", [], state);
  assert.equal(disabled.decision.state, "success");
  assert.ok(disabled.state.devices.every((d) => d.mig === undefined));
});

Deno.test("a change that removes a held MIG device stays pending until its pod is gone", () => {
  const holder = pod("a", { "nvidia.com/mig-3g.40gb": 1 });
  const { state } = reconcile(undefined, [holder]);
  const pending = reconcile("all-1g.10gb", [holder], state);
  assert.equal(pending.decision.state, "pending");
  assert.match(pending.decision.reason!, /team\/a holds 3g.40gb \(GPU 0, GI 2\)/);
  assert.deepEqual(profilesOf(pending.state), profilesOf(state));
  const done = reconcile("all-1g.10gb", [], pending.state);
  assert.equal(done.decision.state, "success");
  assert.deepEqual(profilesOf(done.state)[0], Array(7).fill("1g.10gb"));
});

Deno.test("no MIG state for strategy none or a model without MIG", () => {
  assert.deepEqual(decideMigConfig(pool, "none", "all-1g.10gb", [], []), { layout: [[], []] });
  assert.deepEqual(decideMigConfig(topology.pools.l40s, "mixed", "all-1g.10gb", [], []), {
    layout: [[], []],
  });
});

Deno.test("under strategy single a pod asking for nvidia.com/gpu holds MIG devices, as the GPU operator's single strategy", () => {
  const single = parseTopology({
    migStrategy: "single",
    nodePools: { a100: { gpuProduct: "a100-80gb", gpuCount: 2, migConfig: "all-1g.10gb" } },
  }).pools.a100;
  const decide = (pods: PodLike[], previous?: NodeGpuState) => {
    const decision = decideMigConfig(single, "single", undefined, previous?.devices ?? [], pods);
    return desiredNodeState({
      node: "kwok-a100-0",
      poolName: "a100",
      pool: single,
      migStrategy: "single",
      kwok: true,
      previous,
      pods,
      migLayout: decision.layout,
    });
  };
  const { state, unsatisfied } = decide([pod("a", { "nvidia.com/gpu": 3 })]);
  assert.deepEqual(unsatisfied, []);
  const held = state.devices.flatMap((d) => (d.mig ?? []).filter((m) => m.holder));
  assert.equal(held.length, 3);
  assert.ok(held.every((m) => m.profile === "1g.10gb" && m.holder?.pod === "a"));
  assert.ok(state.devices.every((d) => d.holders === undefined), "no whole GPU is handed out");
  assert.deepEqual(decide([pod("a", { "nvidia.com/gpu": 3 })], state).state, state, "the pod keeps them");
  assert.equal(decide([pod("big", { "nvidia.com/gpu": 15 })]).unsatisfied.length, 1, "14 MIG devices only");
});

Deno.test("a pod whose ResourceClaim allocates a MIG device (dra-plugin's name) holds it; other pods do not get it", () => {
  // all-balanced on GPU 1: the 3g.40gb sits at slice 4 (GI profile 9), the 2g.20gb at slice 2 (GI profile 14).
  const claimedMig = new Map([["gpu-1-mig-3g40gb-9-4", ["uid-dra"]], ["gpu-1-mig-2g20gb-14-2", [
    "uid-gone",
  ]]]);
  const dra = { ...pod("dra", {}), spec: { ...pod("dra", {}).spec, containers: [{ name: "infer" }] } };
  const other = pod("other", { "nvidia.com/mig-3g.40gb": 2 });
  const { state, unsatisfied } = reconcile(undefined, [dra, other], undefined, claimedMig);
  const gpu1 = state.devices[1].mig!;
  const big = gpu1.find((m) => m.profile === "3g.40gb")!;
  assert.deepEqual([big.placementStart, big.holder?.pod, big.holder?.container], [4, "dra", "infer"]);
  assert.ok(!gpu1.find((m) => m.profile === "2g.20gb")!.holder, "a claim whose pod is gone holds nothing");
  assert.deepEqual(unsatisfied, [{ pod: "team/other", needed: 2, held: 0 }], "only one 3g.40gb is left");
  assert.ok(state.devices.every((d) => !d.holders));
});
