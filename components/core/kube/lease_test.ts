import assert from "node:assert/strict";
import { decideLease, type Lease, observeLease } from "./lease.ts";

const T0 = new Date(Date.UTC(2026, 10, 23, 10, 0, 0, 0));

function at(seconds: number): Date {
  return new Date(T0.getTime() + seconds * 1000);
}

function leaseHeldBy(holder: string, transitions = 3): Lease {
  return {
    metadata: { name: "fakegpu", namespace: "ns", resourceVersion: "7" },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: 15,
      acquireTime: "2026-11-23T09:00:00.000000Z",
      renewTime: "2026-11-23T09:59:59.000000Z",
      leaseTransitions: transitions,
    },
  };
}

Deno.test("decideLease() creates a missing lease", () => {
  const decision = decideLease(undefined, undefined, T0, "a", 15);
  assert.equal(decision.action, "create");
  assert.deepEqual(decision.spec, {
    holderIdentity: "a",
    leaseDurationSeconds: 15,
    acquireTime: "2026-11-23T10:00:00.000000Z",
    renewTime: "2026-11-23T10:00:00.000000Z",
    leaseTransitions: 0,
  });
});

Deno.test("decideLease() waits while another holder's record is fresh", () => {
  const lease = leaseHeldBy("b");
  const first = decideLease(lease, undefined, T0, "a", 15);
  assert.equal(first.action, "wait");
  const later = decideLease(lease, first.observation, at(14), "a", 15);
  assert.equal(later.action, "wait");
  assert.equal(later.observation.observedAtMs, T0.getTime());
});

Deno.test("decideLease() takes over when the record did not change for the lease duration", () => {
  const lease = leaseHeldBy("b", 3);
  const first = decideLease(lease, undefined, T0, "a", 15);
  const decision = decideLease(lease, first.observation, at(15.001), "a", 15);
  assert.equal(decision.action, "update");
  assert.equal(decision.spec?.holderIdentity, "a");
  assert.equal(decision.spec?.leaseTransitions, 4);
  assert.equal(decision.spec?.acquireTime, "2026-11-23T10:00:15.001000Z");
});

Deno.test("decideLease() measures expiry from when the record last changed, not from renewTime", () => {
  const first = decideLease(leaseHeldBy("b"), undefined, T0, "a", 15);
  const renewed = leaseHeldBy("b");
  renewed.spec!.renewTime = "2026-11-23T10:00:10.000000Z";
  const decision = decideLease(renewed, first.observation, at(20), "a", 15);
  assert.equal(decision.action, "wait");
  assert.equal(decision.observation.observedAtMs, at(20).getTime());
});

Deno.test("decideLease() renews its own lease keeping acquireTime and transitions", () => {
  const lease = leaseHeldBy("a", 5);
  const decision = decideLease(lease, observeLease(lease.spec!, T0, 15), at(2), "a", 15);
  assert.equal(decision.action, "update");
  assert.equal(decision.spec?.acquireTime, "2026-11-23T09:00:00.000000Z");
  assert.equal(decision.spec?.renewTime, "2026-11-23T10:00:02.000000Z");
  assert.equal(decision.spec?.leaseTransitions, 5);
});

Deno.test("decideLease() claims a released lease at once", () => {
  const lease = leaseHeldBy("", 2);
  const decision = decideLease(lease, undefined, T0, "a", 15);
  assert.equal(decision.action, "update");
  assert.equal(decision.spec?.leaseTransitions, 3);
});
