import assert from "node:assert/strict";
import { kernelPciAddress, mebibyteQuantity, semanticVersion, sliceDevices } from "./devices.ts";
import { testState } from "./test_state.ts";

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
