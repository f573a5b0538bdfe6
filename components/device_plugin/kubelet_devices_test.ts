import assert from "node:assert/strict";
import {
  allocateContainer,
  gpuOfDevice,
  nodeResources,
  preferredAllocation,
  socketName,
  UnknownDevicesError,
} from "./kubelet_devices.ts";
import { testState } from "../core/test_state.ts";
import { podGpus } from "./pod_resources.ts";
import { KUBELET_GPUS_ANNOTATION, kubeletAllocatedGpus } from "../core/allocation.ts";

const base = testState("real-0", "a100-80gb", 4);
const state = {
  ...base,
  kwok: false,
  otherResources: { "rdma/rdma_shared_device_a": 2 },
  devices: base.devices.map((d) => d.index === 2 ? { ...d, faults: { xid: 79 } } : d),
};
const [u0, u1, u2, u3] = state.devices.map((d) => d.uuid);

Deno.test("nodeResources(): GPU UUIDs with health from faults, and the pool's other resources", () => {
  const resources = nodeResources(state);
  assert.deepEqual(resources.get("nvidia.com/gpu"), [
    { ID: u0, health: "Healthy" },
    { ID: u1, health: "Healthy" },
    { ID: u2, health: "Unhealthy" },
    { ID: u3, health: "Healthy" },
  ]);
  assert.deepEqual(resources.get("rdma/rdma_shared_device_a")?.map((d) => d.ID), [
    "rdma_shared_device_a-0",
    "rdma_shared_device_a-1",
  ]);
  assert.equal(nodeResources({ ...state, gpuOffer: "dra" }).has("nvidia.com/gpu"), false);
  assert.equal(nodeResources(undefined).size, 0);
});

Deno.test("socketName(): NVIDIA's socket for nvidia.com resources, a fakegpu one for others", () => {
  assert.equal(socketName("nvidia.com/gpu"), "nvidia-gpu.sock");
  assert.equal(socketName("rdma/rdma_shared_device_a"), "fakegpu-rdma-rdma_shared_device_a.sock");
});

Deno.test("preferredAllocation(): must-include first, then the tightest neighbours", () => {
  const order = ["a", "b", "c", "d", "e", "f", "g", "h"];
  assert.deepEqual(preferredAllocation(order, ["a", "c", "d", "f", "g", "h"], ["g"], 3), ["f", "g", "h"]);
  assert.deepEqual(preferredAllocation(order, ["b", "e", "f"], [], 2), ["e", "f"]);
  assert.deepEqual(preferredAllocation(order, ["a", "b"], [], 4), ["a", "b"]);
});

Deno.test("allocateContainer(): NVIDIA_VISIBLE_DEVICES, NODE_NAME and the nvidia-smi mount", () => {
  const devices = nodeResources(state).get("nvidia.com/gpu")!;
  assert.deepEqual(
    allocateContainer("nvidia.com/gpu", devices, [u1, u3], "real-0", "/opt/nvidia-smi"),
    {
      envs: { NODE_NAME: "real-0", NVIDIA_VISIBLE_DEVICES: `${u1},${u3}` },
      mounts: [{ container_path: "/usr/bin/nvidia-smi", host_path: "/opt/nvidia-smi", read_only: true }],
    },
  );
  assert.throws(
    () => allocateContainer("nvidia.com/gpu", devices, [u1, "GPU-9", "x"], "real-0"),
    (err: unknown) => err instanceof UnknownDevicesError && err.message.endsWith("device IDs: GPU-9, x"),
  );
});

Deno.test("podGpus(): each GPU pod's UUIDs from the kubelet's pod resources, replica suffixes removed", () => {
  assert.deepEqual(
    podGpus([
      {
        name: "train",
        namespace: "default",
        containers: [
          { name: "a", devices: [{ resource_name: "nvidia.com/gpu", device_ids: [u3, `${u1}::2`] }] },
          { name: "b", devices: [{ resource_name: "rdma/hca", device_ids: ["hca-0"] }] },
        ],
      },
      { name: "web", namespace: "default", containers: [{ name: "c", devices: [] }] },
    ]),
    new Map([["default/train", [u1, u3].sort().join(",")]]),
  );
});

Deno.test("kubeletAllocatedGpus(): the pod's recorded UUIDs by GPU index; unknown UUIDs ignored", () => {
  const pod = {
    metadata: { uid: "p1", annotations: { [KUBELET_GPUS_ANNOTATION]: `${u3},GPU-unknown,${u1}` } },
  };
  assert.deepEqual(
    kubeletAllocatedGpus([pod, { metadata: { uid: "p2" } }], state.devices),
    new Map([[3, ["p1"]], [1, ["p1"]]]),
  );
});

Deno.test("time-slicing: <uuid>::<k> devices, plain UUIDs in the env, replicas spread over GPUs", () => {
  const devices = nodeResources({ ...state, replicas: 2 }).get("nvidia.com/gpu")!;
  assert.deepEqual(devices.slice(0, 3).map((d) => d.ID), [`${u0}::0`, `${u0}::1`, `${u1}::0`]);
  assert.equal(devices.length, 8);
  assert.equal(devices.filter((d) => d.health === "Unhealthy").length, 2);
  const env =
    allocateContainer("nvidia.com/gpu", devices, [`${u1}::1`, `${u1}::0`, `${u3}::0`], "real-0").envs;
  assert.equal(env.NVIDIA_VISIBLE_DEVICES, `${u1},${u3}`);
  const ids = devices.map((d) => d.ID);
  const available = ids.filter((id) => id !== `${u0}::0`);
  assert.deepEqual(
    preferredAllocation(ids, available, [], 2).map(gpuOfDevice),
    [u1, u2],
    "two replicas on two GPUs that have both replicas free",
  );
});
