import assert from "node:assert/strict";
import { findGpuModel } from "../core/catalogue.ts";
import { gpuDevices } from "../core/identity.ts";
import { migDevices, resolveMigLayout } from "../core/mig_layout.ts";
import { renderList } from "./query.ts";
import { gpuView } from "./view.ts";

Deno.test("-L lists each GPU's MIG devices under it as the real tool does (§6.2), with the node state's UUIDs", () => {
  const model = findGpuModel("a100-80gb")!;
  const [gpu, plain] = gpuDevices("kwok-a100-0", model, 2);
  const mig = migDevices(gpu.uuid, resolveMigLayout(model, ["1g.10gb", "1g.10gb", "3g.40gb"], 1)[0]);
  const views = [gpuView(model, { ...gpu, mig }, 0, 0)!, gpuView(model, plain, 1, 0)!];
  assert.equal(
    renderList(views),
    `GPU 0: NVIDIA A100-SXM4-80GB (UUID: ${gpu.uuid})\n` +
      `  MIG 3g.40gb     Device  0: (UUID: ${mig[0].uuid})\n` +
      `  MIG 1g.10gb     Device  1: (UUID: ${mig[1].uuid})\n` +
      `  MIG 1g.10gb     Device  2: (UUID: ${mig[2].uuid})\n` +
      `GPU 1: NVIDIA A100-SXM4-80GB (UUID: ${plain.uuid})\n`,
  );
  assert.deepEqual(views.map((v) => v.migMode), ["Enabled", "Disabled"]);
});
