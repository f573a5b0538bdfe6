import assert from "node:assert/strict";
import { CLEANUP_IDENTITY, cleanupLeaseSpec, leaderMayBeActive, nodeWritesToUndo } from "./reconcile.ts";

const now = new Date("2026-12-03T12:00:00Z");

Deno.test("cleanupLeaseSpec() takes a role's Lease for long enough that nobody takes it back", () => {
  const spec = cleanupLeaseSpec(
    { holderIdentity: "su-1", leaseDurationSeconds: 15, leaseTransitions: 3 },
    now,
  );
  assert.equal(spec.holderIdentity, CLEANUP_IDENTITY);
  assert.equal(spec.leaseDurationSeconds, 3600);
  assert.equal(spec.leaseTransitions, 4);
  assert.match(spec.renewTime ?? "", /^2026-12-03T12:00:00\.000000Z$/);
  assert.equal(cleanupLeaseSpec(spec, now).leaseTransitions, 4, "taking it again is no transition");
});

Deno.test("leaderMayBeActive() is true only while another holder's lease is still valid", () => {
  const renewed = (secondsAgo: number) => new Date(now.getTime() - secondsAgo * 1000).toISOString();
  assert.equal(
    leaderMayBeActive({ holderIdentity: "su-1", leaseDurationSeconds: 15, renewTime: renewed(3) }, now),
    true,
  );
  assert.equal(
    leaderMayBeActive({ holderIdentity: "su-1", leaseDurationSeconds: 15, renewTime: renewed(30) }, now),
    false,
  );
  assert.equal(
    leaderMayBeActive(
      { holderIdentity: CLEANUP_IDENTITY, leaseDurationSeconds: 15, renewTime: renewed(1) },
      now,
    ),
    false,
  );
  assert.equal(leaderMayBeActive({}, now), false);
  assert.equal(leaderMayBeActive(undefined, now), false);
});

Deno.test("nodeWritesToUndo() finds status-updater's labels and the device plugin's resources only", () => {
  const entry = (manager: string, fields: Record<string, unknown>, subresource?: string) => ({
    manager,
    operation: "Apply",
    ...(subresource ? { subresource } : {}),
    fieldsV1: fields,
  });
  const node = {
    metadata: {
      managedFields: [
        entry("fakegpu", { "f:metadata": { "f:labels": { "f:nvidia.com/gpu.count": {} } } }),
        entry(
          "fakegpu-device-plugin",
          { "f:status": { "f:capacity": { "f:nvidia.com/gpu": {} } } },
          "status",
        ),
        entry("kubectl", { "f:metadata": { "f:labels": { "f:team": {} } } }),
      ],
    },
  };
  assert.deepEqual(nodeWritesToUndo(node).map((w) => w.manager), ["fakegpu", "fakegpu-device-plugin"]);
  assert.deepEqual(nodeWritesToUndo({ metadata: { managedFields: [node.metadata.managedFields[2]] } }), []);
});
