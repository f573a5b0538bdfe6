import assert from "node:assert/strict";
import { nvidiaDeviceClasses } from "./device_classes.ts";

Deno.test("nvidiaDeviceClasses() are NVIDIA's classes, gpu.nvidia.com standing for nvidia.com/gpu", () => {
  const [gpu, mig] = nvidiaDeviceClasses();
  assert.equal(gpu.metadata.name, "gpu.nvidia.com");
  assert.deepEqual(gpu.spec, {
    selectors: [{
      cel: {
        expression: "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'",
      },
    }],
    extendedResourceName: "nvidia.com/gpu",
  });
  assert.equal(mig.metadata.name, "mig.nvidia.com");
  assert.deepEqual(mig.spec, {
    selectors: [{
      cel: {
        expression: "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig'",
      },
    }],
  });
});
