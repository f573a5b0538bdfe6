import assert from "node:assert/strict";
import { kernelPciAddress, mebibyteQuantity, semanticVersion, sliceDevices } from "./devices.ts";
import { testState } from "../core/test_state.ts";
import { findGpuModel } from "../core/catalogue.ts";
import { migDevices, resolveMigLayout } from "../core/mig_layout.ts";

Deno.test("sliceDevices() publishes an H100 as NVIDIA's driver does, with the node state's identities", () => {
  const state = testState("kwok-h100-0", "h100", 8);
  const devices = sliceDevices(state);
  assert.deepEqual(devices.map((d) => d.name), [
    "gpu-0",
    "gpu-1",
    "gpu-2",
    "gpu-3",
    "gpu-4",
    "gpu-5",
    "gpu-6",
    "gpu-7",
  ]);
  assert.deepEqual(devices[0], {
    name: "gpu-0",
    attributes: {
      type: { string: "gpu" },
      uuid: { string: state.devices[0].uuid },
      productName: { string: "NVIDIA H100 80GB HBM3" },
      brand: { string: "Nvidia" },
      architecture: { string: "Hopper" },
      cudaComputeCapability: { version: "9.0.0" },
      driverVersion: { version: "580.105.8" },
      cudaDriverVersion: { version: "13.0.0" },
      "resource.kubernetes.io/pciBusID": { string: "0000:18:00.0" },
    },
    capacity: { memory: { value: "81559Mi" } },
  });
  assert.deepEqual(devices[3].attributes["resource.kubernetes.io/pciBusID"], { string: "0000:5d:00.0" });
  assert.deepEqual(devices.map((d) => d.attributes.uuid), state.devices.map((d) => ({ string: d.uuid })));
});

Deno.test("sliceDevices() follows the model: Ada Lovelace L40S, A100 memory in canonical form, GH200 ATS", () => {
  const l40s = sliceDevices(testState("n", "l40s", 4))[0];
  assert.deepEqual(l40s.attributes.architecture, { string: "Ada Lovelace" });
  assert.deepEqual(l40s.attributes.cudaComputeCapability, { version: "8.9.0" });
  assert.equal(l40s.attributes.addressingMode, undefined);
  assert.deepEqual(sliceDevices(testState("n", "a100-80gb", 1))[0].capacity, { memory: { value: "80Gi" } });
  const gh200 = sliceDevices(testState("n", "gh200", 2));
  assert.deepEqual(gh200[1].attributes.addressingMode, { string: "ATS" });
  assert.deepEqual(gh200[1].attributes["resource.kubernetes.io/pciBusID"], { string: "0009:01:00.0" });
});

Deno.test("sliceDevices() gives an unknown product neutral model values", () => {
  const state = testState("n", "t4", 1);
  state.gpu = { ...state.gpu, product: "Tesla K80", model: "tesla-k80", memoryMiB: 12288 };
  const [device] = sliceDevices(state);
  assert.deepEqual(device.attributes.productName, { string: "Tesla K80" });
  assert.deepEqual(device.attributes.architecture, { string: "Unknown" });
  assert.deepEqual(device.capacity.memory, { value: "12Gi" });
});

Deno.test("semanticVersion() normalises driver and CUDA versions and rejects others", () => {
  assert.equal(semanticVersion("580.105.08"), "580.105.8");
  assert.equal(semanticVersion("550.90"), "550.90.0");
  assert.equal(semanticVersion("13.0"), "13.0.0");
  assert.throws(() => semanticVersion("r580"), /Cannot make a semantic version of "r580"/);
});

Deno.test("kernelPciAddress() writes NVML bus ids in the kernel's form", () => {
  assert.equal(kernelPciAddress("00000000:9A:00.0"), "0000:9a:00.0");
  assert.equal(kernelPciAddress("00000018:01:00.0"), "0018:01:00.0");
  assert.throws(() => kernelPciAddress("9A:00.0"), /Cannot read PCI bus id "9A:00.0"/);
});

Deno.test("mebibyteQuantity() picks the canonical binary suffix", () => {
  assert.equal(mebibyteQuantity(81559), "81559Mi");
  assert.equal(mebibyteQuantity(16384), "16Gi");
  assert.equal(mebibyteQuantity(1048576), "1Ti");
});

Deno.test("sliceDevices() publishes a MIG GPU's MIG devices (type: mig) in place of the GPU, named as the driver names them", () => {
  const state = testState("kwok-a100-0", "a100-80gb", 2);
  const [parent, whole] = state.devices;
  const model = findGpuModel("a100-80gb")!;
  const mig = migDevices(parent.uuid, resolveMigLayout(model, ["1g.10gb", "3g.40gb"], 1)[0]);
  const devices = sliceDevices({ ...state, migStrategy: "mixed", devices: [{ ...parent, mig }, whole] });
  assert.deepEqual(devices.map((d) => d.name), ["gpu-0-mig-3g40gb-9-0", "gpu-0-mig-1g10gb-19-4", "gpu-1"]);
  assert.deepEqual(devices[1].attributes.type, { string: "mig" });
  assert.deepEqual(devices[1].attributes.uuid, { string: mig[1].uuid });
  assert.deepEqual(devices[1].attributes.parentUUID, { string: parent.uuid });
  assert.deepEqual(devices[1].attributes.profile, { string: "1g.10gb" });
  assert.deepEqual(devices[1].attributes["resource.kubernetes.io/pciBusID"], {
    string: kernelPciAddress(parent.pciBusId),
  });
  assert.deepEqual(devices[1].capacity, {
    multiprocessors: { value: "14" },
    memory: { value: "9728Mi" },
    memorySlice4: { value: "1" },
  });
  assert.deepEqual(Object.keys(devices[0].capacity).filter((k) => k.startsWith("memorySlice")), [
    "memorySlice0",
    "memorySlice1",
    "memorySlice2",
    "memorySlice3",
  ]);
});
