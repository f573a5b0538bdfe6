import assert from "node:assert/strict";
import { findGpuModel } from "./catalogue.ts";
import { gpuDevices, migDeviceUuid } from "./identity.ts";
import type { GpuModel } from "./model.ts";

const GPU_UUID = /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MIG_UUID = /^MIG-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const BUS_ID = /^[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.0$/;
const SERIAL = /^\d{13}$/;

function model(key: string): GpuModel {
  const found = findGpuModel(key);
  assert.ok(found, key);
  return found;
}

Deno.test("gpuDevices() is stable for a node name", () => {
  assert.deepEqual(gpuDevices("kwok-a100-0", model("a100"), 8), gpuDevices("kwok-a100-0", model("a100"), 8));
  const [first] = gpuDevices("kwok-a100-0", model("a100"), 1);
  // Fixed vectors: the documented derivation, reproduced with Python hashlib.
  assert.deepEqual(first, {
    index: 0,
    uuid: "GPU-71dccae7-95f5-4f20-9b34-1b2ac02ef2a4",
    pciBusId: "00000000:18:00.0",
    serial: "1355153400602",
  });
});

Deno.test("gpuDevices() numbers GPUs from 0 and keeps identities when the count grows", () => {
  const four = gpuDevices("node-x", model("h100"), 4);
  const eight = gpuDevices("node-x", model("h100"), 8);
  assert.deepEqual(four.map((device) => device.index), [0, 1, 2, 3]);
  assert.deepEqual(eight.slice(0, 4), four);
  assert.deepEqual(gpuDevices("node-x", model("h100"), 0), []);
});

Deno.test("gpuDevices() formats UUIDs, bus ids and serials like NVML", () => {
  for (const key of ["h100", "l40s", "gb200"]) {
    for (const device of gpuDevices("node-fmt", model(key), 8)) {
      assert.match(device.uuid, GPU_UUID);
      assert.match(device.pciBusId, BUS_ID);
      assert.match(device.serial, SERIAL);
    }
  }
});

Deno.test("gpuDevices() lays out PCI buses by form factor", () => {
  const buses = (key: string, count: number) => gpuDevices("n", model(key), count).map((d) => d.pciBusId);
  assert.deepEqual(buses("h100", 8), [
    "00000000:18:00.0",
    "00000000:2A:00.0",
    "00000000:3A:00.0",
    "00000000:5D:00.0",
    "00000000:9A:00.0",
    "00000000:AB:00.0",
    "00000000:BA:00.0",
    "00000000:DB:00.0",
  ]);
  assert.deepEqual(buses("t4", 4), [
    "00000000:1A:00.0",
    "00000000:1B:00.0",
    "00000000:3D:00.0",
    "00000000:3E:00.0",
  ]);
  assert.deepEqual(buses("gb200", 4), [
    "00000008:01:00.0",
    "00000009:01:00.0",
    "00000018:01:00.0",
    "00000019:01:00.0",
  ]);
});

Deno.test("gpuDevices() continues past the board layout without collisions", () => {
  for (const key of ["h100", "l40s", "gb200"]) {
    const ids = gpuDevices("big", model(key), 40).map((device) => device.pciBusId);
    assert.equal(new Set(ids).size, 40, key);
    ids.forEach((id) => assert.match(id, BUS_ID));
  }
  assert.equal(gpuDevices("big", model("h100"), 9)[8].pciBusId, "00000001:18:00.0");
});

Deno.test("gpuDevices() gives unique identities across 1000 nodes of 8 GPUs", () => {
  const uuids = new Set<string>();
  const serials = new Set<string>();
  for (let node = 0; node < 1000; node++) {
    const devices = gpuDevices(`kwok-gpu-node-${node}`, model("h100"), 8);
    assert.equal(new Set(devices.map((device) => device.pciBusId)).size, 8);
    for (const device of devices) {
      uuids.add(device.uuid);
      serials.add(device.serial);
    }
  }
  assert.equal(uuids.size, 8000);
  assert.equal(serials.size, 8000);
});

Deno.test("gpuDevices() rejects a count that is not a non-negative integer", () => {
  for (const count of [-1, 1.5, Number.NaN]) {
    assert.throws(() => gpuDevices("n", model("h100"), count), RangeError);
  }
});

Deno.test("migDeviceUuid() derives a v5-style MIG UUID from the GPU UUID", () => {
  const gpu = "GPU-c4529c8d-69c4-b61d-e0bc-7b2460096005";
  // Python: uuid.uuid5(uuid.UUID("c4529c8d-69c4-b61d-e0bc-7b2460096005"), "7/0")
  assert.equal(migDeviceUuid(gpu, 7, 0), "MIG-7b28f850-fe9d-5520-a46e-a90d0c6d4e6f");
  assert.equal(migDeviceUuid("GPU-" + gpu.slice(4).toUpperCase(), 7, 0), migDeviceUuid(gpu, 7, 0));
  const seen = new Set<string>();
  for (let gi = 0; gi < 14; gi++) {
    for (let ci = 0; ci < 8; ci++) {
      const uuid = migDeviceUuid(gpu, gi, ci);
      assert.match(uuid, MIG_UUID);
      seen.add(uuid);
    }
  }
  assert.equal(seen.size, 14 * 8);
  assert.notEqual(migDeviceUuid("GPU-04d228d3-3b5a-3534-f5cf-969706647d56", 7, 0), migDeviceUuid(gpu, 7, 0));
});

Deno.test("migDeviceUuid() rejects a malformed GPU UUID", () => {
  for (
    const bad of [
      "",
      "c4529c8d-69c4-b61d-e0bc-7b2460096005",
      "GPU-1234",
      "MIG-c4529c8d-69c4-b61d-e0bc-7b2460096005",
    ]
  ) {
    assert.throws(() => migDeviceUuid(bad, 1, 0), TypeError, bad);
  }
});
