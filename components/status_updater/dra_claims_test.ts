import assert from "node:assert/strict";
import { claimedGpus, type ClaimLike, claimNodes, claimReservedFor, slimClaim } from "./dra_claims.ts";

function claim(
  name: string,
  results: { driver: string; pool: string; device: string }[],
  pods: string[],
): ClaimLike {
  return {
    metadata: { name, namespace: "team", uid: `claim-${name}`, resourceVersion: "1", labels: { a: "b" } },
    spec: { devices: { requests: [] } },
    status: {
      allocation: { devices: { results } },
      reservedFor: pods.map((uid) => ({ resource: "pods", name: `pod-${uid}`, uid })),
    },
  };
}

const gpu = (pool: string, device: string) => ({ driver: "gpu.nvidia.com", pool, device });

Deno.test("claimedGpus() maps gpu.nvidia.com devices of the node to the pods using them", () => {
  const claims = [
    claim("one", [gpu("n", "gpu-2")], ["a"]),
    claim("shared", [gpu("n", "gpu-5")], ["b", "c"]),
    claim("elsewhere", [gpu("m", "gpu-0")], ["d"]),
    claim("other-driver", [{ driver: "nic.example.com", pool: "n", device: "gpu-0" }], ["e"]),
  ];
  const { byIndex, unknown } = claimedGpus(claims, "n", 8);
  assert.deepEqual([...byIndex], [[2, ["a"]], [5, ["b", "c"]]]);
  assert.deepEqual(unknown, []);
});

Deno.test("claimedGpus() reports devices the node does not have", () => {
  const bad = claim("bad", [gpu("n", "gpu-8"), gpu("n", "gpu-0-mig-1g10gb-19-0"), gpu("n", "gpu-1")], ["a"]);
  const { byIndex, unknown } = claimedGpus([bad], "n", 8);
  assert.deepEqual([...byIndex], [[1, ["a"]]]);
  assert.deepEqual(unknown.map((u) => u.device), ["gpu-8", "gpu-0-mig-1g10gb-19-0"]);
});

Deno.test("claimedGpus() maps the node's MIG devices, by the names dra-plugin publishes, to the pods using them", () => {
  const mig = "gpu-0-mig-1g10gb-19-0";
  const claims = [
    claim("one", [gpu("n", mig)], ["a"]),
    claim("shared", [gpu("n", mig), gpu("n", "gpu-1-mig-3g40gb-9-4")], ["b"]),
    claim("gone", [gpu("n", "gpu-0-mig-7g80gb-0-0")], ["c"]),
  ];
  const { byIndex, byMigDevice, unknown } = claimedGpus(
    claims,
    "n",
    2,
    new Set([mig, "gpu-1-mig-3g40gb-9-4"]),
  );
  assert.deepEqual([...byIndex], []);
  assert.deepEqual([...byMigDevice], [[mig, ["a", "b"]], ["gpu-1-mig-3g40gb-9-4", ["b"]]]);
  assert.deepEqual(unknown.map((u) => u.device), ["gpu-0-mig-7g80gb-0-0"]);
});

Deno.test("slimClaim() keeps identity, GPU results and pod reservations only", () => {
  const full = claim("one", [gpu("n", "gpu-2"), { driver: "nic.example.com", pool: "n", device: "x" }], [
    "a",
  ]);
  full.status!.reservedFor!.push({ resource: "widgets", name: "w", uid: "w" });
  assert.deepEqual(slimClaim(full), {
    apiVersion: "resource.k8s.io/v1",
    kind: "ResourceClaim",
    metadata: { name: "one", namespace: "team", uid: "claim-one", resourceVersion: "1" },
    status: {
      allocation: { devices: { results: [gpu("n", "gpu-2")] } },
      reservedFor: [{ resource: "pods", name: "pod-a", uid: "a" }],
    },
  });
  assert.deepEqual(claimNodes(full), ["n"]);
  assert.deepEqual(claimNodes(undefined), []);
  assert.equal(claimReservedFor(full, "a"), true);
  assert.equal(claimReservedFor(full, "z"), false);
});
