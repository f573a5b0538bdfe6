import assert from "node:assert/strict";
import { findGpuModel } from "../core/catalogue.ts";
import { gpuDevices } from "../core/identity.ts";
import { selectGpus, visibleDevices } from "./visible.ts";
import { gpuView } from "./view.ts";

const devices = [...gpuDevices("kwok-h100-0", findGpuModel("h100")!, 4)];

Deno.test("NVIDIA_VISIBLE_DEVICES: unset and all show every GPU, none/void/empty none, else indices or UUIDs", () => {
  assert.equal(visibleDevices(devices, undefined).length, 4);
  assert.equal(visibleDevices(devices, "all").length, 4);
  for (const none of ["none", "void", ""]) assert.deepEqual(visibleDevices(devices, none), []);
  assert.deepEqual(visibleDevices(devices, `3,${devices[1].uuid}`).map((d) => d.index), [1, 3]);
});

Deno.test("inside a container the visible GPUs are numbered from 0; -i takes that index, a UUID or a bus id", () => {
  const model = findGpuModel("h100")!;
  const gpus = visibleDevices(devices, "2,3").map((d, i) => gpuView(model, d, i, 0)!);
  assert.deepEqual(gpus.map((g) => [g.index, g.minor]), [[0, 2], [1, 3]]);
  assert.deepEqual(selectGpus(gpus, "1").map((g) => g.uuid), [devices[3].uuid]);
  assert.deepEqual(selectGpus(gpus, devices[2].uuid).map((g) => g.index), [0]);
  const bus = devices[3].pciBusId;
  for (const form of [bus, bus.slice(4).toLowerCase(), bus.slice(9)]) {
    assert.deepEqual(selectGpus(gpus, form).map((g) => g.index), [1], form);
  }
  assert.deepEqual(selectGpus(gpus, "7"), []);
});
