import assert from "node:assert/strict";
import type { NodeGpuState } from "../core/node_state.ts";
import { advertisementNeedsWrite, desiredResources } from "./reconcile.ts";

const state: NodeGpuState = {
  node: "n",
  pool: "a100",
  kwok: true,
  gpu: {
    product: "NVIDIA A100-SXM4-80GB",
    model: "a100-80gb",
    memoryMiB: 81920,
    driverVersion: "580.105.08",
    cudaVersion: "13.0",
  },
  migStrategy: "none",
  otherResources: { "rdma/hca": 2 },
  devices: Array.from({ length: 8 }, (_, index) => ({
    index,
    uuid: `GPU-00000000-0000-0000-0000-00000000000${index}`,
    pciBusId: "00000000:18:00.0",
    serial: "1654423001593",
  })),
};

const both = (resources: Record<string, string>) => ({ capacity: resources, allocatable: resources });

Deno.test("desiredResources() advertises the state's GPUs and other resources on a KWOK node", () => {
  assert.deepEqual(
    desiredResources({ kwok: true, inPool: true, state }),
    both({ "nvidia.com/gpu": "8", "rdma/hca": "2" }),
  );
});

Deno.test("desiredResources() counts each GPU of a HAMi pool split count times, healthy ones in allocatable", () => {
  const faulty = {
    ...state,
    devices: state.devices.map((d) => d.index === 3 ? { ...d, faults: { xid: 79 } } : d),
  };
  assert.deepEqual(desiredResources({ kwok: true, inPool: true, state: faulty, hamiSplitCount: 10 }), {
    capacity: { "nvidia.com/gpu": "80", "rdma/hca": "2" },
    allocatable: { "nvidia.com/gpu": "70", "rdma/hca": "2" },
  });
});

Deno.test("desiredResources() keeps unhealthy GPUs in capacity but not in allocatable", () => {
  const faulty = {
    ...state,
    devices: state.devices.map((d) =>
      d.index === 1 ? { ...d, faults: { xid: 79 } } : d.index === 2 ? { ...d, faults: { xid: 13 } } : d
    ),
  };
  assert.deepEqual(desiredResources({ kwok: true, inPool: true, state: faulty }), {
    capacity: { "nvidia.com/gpu": "8", "rdma/hca": "2" },
    allocatable: { "nvidia.com/gpu": "7", "rdma/hca": "2" },
  });
});

Deno.test("desiredResources() leaves a pool node alone while its state is missing", () => {
  assert.equal(desiredResources({ kwok: true, inPool: true }), undefined);
});

Deno.test("desiredResources() removes what it advertised once a node leaves the pool", () => {
  assert.deepEqual(desiredResources({ kwok: true, inPool: false }), both({}));
  assert.deepEqual(desiredResources({ kwok: false, inPool: true, state }), both({}));
});

Deno.test("advertisementNeedsWrite() is false when capacity and allocatable already match", () => {
  const desired = both({ "nvidia.com/gpu": "8" });
  const status = { capacity: { cpu: "96", "nvidia.com/gpu": "8" }, allocatable: { "nvidia.com/gpu": "8" } };
  assert.equal(advertisementNeedsWrite(status, new Set(["nvidia.com/gpu"]), desired), false);
  assert.equal(advertisementNeedsWrite({ capacity: status.capacity }, new Set(), desired), true);
  assert.equal(advertisementNeedsWrite(status, new Set(["nvidia.com/gpu", "rdma/hca"]), desired), true);
});

Deno.test("advertisementNeedsWrite() never touches resources someone else wrote", () => {
  const status = { capacity: { "nvidia.com/gpu": "8" }, allocatable: { "nvidia.com/gpu": "8" } };
  assert.equal(advertisementNeedsWrite(status, new Set(), both({})), false);
});

Deno.test("desiredResources() leaves nvidia.com/gpu out on a DRA-only pool and keeps it for both", () => {
  assert.deepEqual(
    desiredResources({ kwok: true, inPool: true, state: { ...state, gpuOffer: "dra" } }),
    both({
      "rdma/hca": "2",
    }),
  );
  assert.deepEqual(
    desiredResources({ kwok: true, inPool: true, state: { ...state, gpuOffer: "both" } }),
    both({
      "nvidia.com/gpu": "8",
      "rdma/hca": "2",
    }),
  );
});

Deno.test("desiredResources() advertises every time-slicing replica on a KWOK node", () => {
  const faulty = state.devices.map((d) => d.index === 0 ? { ...d, faults: { xid: 79 } } : d);
  assert.deepEqual(
    desiredResources({ kwok: true, inPool: true, state: { ...state, replicas: 4, devices: faulty } }),
    {
      capacity: { "nvidia.com/gpu": "32", "rdma/hca": "2" },
      allocatable: { "nvidia.com/gpu": "28", "rdma/hca": "2" },
    },
  );
});

Deno.test("desiredResources() advertises MIG devices: one nvidia.com/mig-<profile> each under mixed, nvidia.com/gpu under single", () => {
  const mig = (profile: string, giId: number) => ({
    profile,
    giId,
    placementStart: 0,
    placementSize: 1,
    uuid: `MIG-00000000-0000-5000-8000-0000000000${String(giId).padStart(2, "0")}`,
  });
  const devices = state.devices.map((d) =>
    d.index < 2 ? { ...d, mig: [mig("1g.10gb", 7), mig("1g.10gb", 8), mig("3g.40gb", 2)] } : d
  );
  devices[1] = { ...devices[1], faults: { xid: 79 } };
  assert.deepEqual(
    desiredResources({ kwok: true, inPool: true, state: { ...state, migStrategy: "mixed", devices } }),
    {
      capacity: {
        "nvidia.com/gpu": "6",
        "nvidia.com/mig-1g.10gb": "4",
        "nvidia.com/mig-3g.40gb": "2",
        "rdma/hca": "2",
      },
      allocatable: {
        "nvidia.com/gpu": "6",
        "nvidia.com/mig-1g.10gb": "2",
        "nvidia.com/mig-3g.40gb": "1",
        "rdma/hca": "2",
      },
    },
  );
  assert.deepEqual(
    desiredResources({ kwok: true, inPool: true, state: { ...state, migStrategy: "single", devices } })
      ?.capacity,
    { "nvidia.com/gpu": "12", "rdma/hca": "2" },
  );
});
