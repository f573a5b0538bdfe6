import assert from "node:assert/strict";
import { cdiDeviceId, cdiSpec, cdiSpecFile } from "./cdi.ts";
import { Checkpoint } from "./checkpoint.ts";

Deno.test("cdiSpec(): NVIDIA's claim kind and names, the claim's UUIDs, the node and nvidia-smi", () => {
  const gpus = [{ device: "gpu-1", uuid: "GPU-aaa" }, { device: "gpu-3", uuid: "GPU-bbb" }];
  const spec = cdiSpec("uid-1", gpus, "real-0", "/opt/fakegpu/nvidia-smi");
  assert.equal(spec.kind, "k8s.gpu.nvidia.com/claim");
  assert.deepEqual(spec.containerEdits.env, ["NVIDIA_VISIBLE_DEVICES=GPU-aaa,GPU-bbb", "NODE_NAME=real-0"]);
  assert.deepEqual(
    spec.containerEdits.mounts?.map((m) => [m.hostPath, m.containerPath, m.options.includes("ro")]),
    [
      ["/opt/fakegpu/nvidia-smi", "/usr/bin/nvidia-smi", true],
    ],
  );
  assert.deepEqual(spec.devices.map((d) => d.name), ["uid-1-gpu-1", "uid-1-gpu-3"]);
  assert.equal(cdiDeviceId("uid-1", "gpu-3"), "k8s.gpu.nvidia.com/claim=uid-1-gpu-3");
  assert.equal(cdiSpecFile("uid-1"), "k8s.gpu.nvidia.com-claim_uid-1.yaml");
  assert.equal(cdiSpec("uid-1", gpus, "real-0").containerEdits.mounts, undefined);
});

Deno.test("Checkpoint keeps prepared claims across loads; an invalid file starts empty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/checkpoint.json`;
    const claim = {
      namespace: "default",
      name: "c",
      devices: [{ request_names: ["gpu"], pool_name: "n", device_name: "gpu-0", cdi_device_ids: ["x"] }],
    };
    const first = await Checkpoint.load(file);
    await first.set("uid-1", claim);
    assert.deepEqual((await Checkpoint.load(file)).get("uid-1"), claim);
    await first.delete("uid-1");
    assert.equal((await Checkpoint.load(file)).get("uid-1"), undefined);
    await Deno.writeTextFile(file, '{"claims": {"u": {"namespace": 3}}}');
    assert.equal((await Checkpoint.load(file)).get("u"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
