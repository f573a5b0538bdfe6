import assert from "node:assert/strict";
import { findGpuModel } from "./catalogue.ts";
import { migDevices, MigLayoutError, resolveMigLayout } from "./mig_layout.ts";

const a100 = findGpuModel("a100-80gb")!;
const a30 = findGpuModel("a30")!;
const l40s = findGpuModel("l40s")!;

const profiles = (gpu: { profile: string }[]) => gpu.map((i) => i.profile);

Deno.test("all-1g.10gb cuts every A100 80GB into seven 1g.10gb instances with GI ids 7–13", () => {
  const layout = resolveMigLayout(a100, "all-1g.10gb", 2);
  assert.equal(layout.length, 2);
  for (const gpu of layout) {
    assert.deepEqual(profiles(gpu), Array(7).fill("1g.10gb"));
    assert.deepEqual(gpu.map((i) => i.giId), [7, 8, 9, 10, 11, 12, 13]);
  }
});

Deno.test("all-balanced is 2 × 1g + 2g + 3g as mig-parted's default config; the 3g sits at slice 4 with GI id 2", () => {
  const [gpu] = resolveMigLayout(a100, "all-balanced", 1);
  assert.deepEqual(profiles(gpu).sort(), ["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"]);
  assert.deepEqual(gpu.find((i) => i.profile === "3g.40gb"), {
    profile: "3g.40gb",
    giId: 2,
    placementStart: 4,
    placementSize: 4,
  });
  assert.deepEqual(gpu.find((i) => i.profile === "2g.20gb")?.giId, 3);
});

Deno.test("a 3g + 2g pair gets GI ids 1 and 5 (the 3g first, at slice 0); 4g + 3g fills the GPU", () => {
  const [pair] = resolveMigLayout(a100, ["3g.40gb", "2g.20gb"], 1);
  assert.deepEqual(pair.map((i) => [i.profile, i.giId]), [["3g.40gb", 1], ["2g.20gb", 5]]);
  const [full] = resolveMigLayout(a100, ["4g.40gb", "3g.40gb"], 1);
  assert.deepEqual(full.map((i) => [i.profile, i.placementStart]), [["4g.40gb", 0], ["3g.40gb", 4]]);
});

Deno.test("an explicit list per GPU lays out each GPU on its own; all-disabled leaves every GPU whole", () => {
  const layout = resolveMigLayout(a100, [["7g.80gb"], [], ["1g.10gb", "1g.20gb"]], 3);
  assert.deepEqual(layout.map(profiles), [["7g.80gb"], [], ["1g.20gb", "1g.10gb"]]);
  assert.deepEqual(resolveMigLayout(l40s, "all-disabled", 2), [[], []]);
});

Deno.test("the A30 (4 slices) takes its own table: all-balanced is 2 × 1g.6gb + 2g.12gb", () => {
  const [gpu] = resolveMigLayout(a30, "all-balanced", 1);
  assert.deepEqual(profiles(gpu).sort(), ["1g.6gb", "1g.6gb", "2g.12gb"]);
  assert.deepEqual(resolveMigLayout(a30, "all-4g.24gb", 1)[0].map((i) => i.giId), [0]);
});

Deno.test("impossible layouts are refused with the reason", () => {
  const refused = (spec: Parameters<typeof resolveMigLayout>[1], pattern: RegExp, model = a100) =>
    assert.throws(() => resolveMigLayout(model, spec, 2), (err: Error) => {
      assert.ok(err instanceof MigLayoutError);
      assert.match(err.message, pattern);
      return true;
    });
  refused("all-1g.10gb", /NVIDIA L40S does not support MIG/, l40s);
  refused("all-2g.99gb", /unknown MIG config "all-2g.99gb".*known: all-disabled, all-balanced, all-1g.10gb/);
  refused(["1g.5gb"], /GPU 0: NVIDIA A100-SXM4-80GB has no MIG profile "1g.5gb"/);
  refused(["3g.40gb", "3g.40gb", "3g.40gb"], /3 × 3g.40gb, but at most 2 fit/);
  refused(["4g.40gb", "3g.40gb", "1g.10gb"], /needs 8 compute slices, .* has 7/);
  refused(["1g.20gb", "1g.20gb", "1g.20gb", "1g.20gb", "1g.10gb"], /do not fit the 8 memory slices/);
  refused([["7g.80gb"]], /lists the profiles of 1 GPUs, but the node has 2/);
});

Deno.test("MIG device UUIDs are MIG- UUIDs, the same for the same GPU and slot and different across slots", () => {
  const [gpu] = resolveMigLayout(a100, "all-1g.10gb", 1);
  const parent = "GPU-4f1b8a2e-3c5d-4e6f-8a9b-0c1d2e3f4a5b";
  const devices = migDevices(parent, gpu);
  for (const device of devices) assert.match(device.uuid, /^MIG-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
  assert.deepEqual(migDevices(parent, gpu), devices);
  assert.equal(new Set(devices.map((d) => d.uuid)).size, 7);
  assert.notEqual(migDevices("GPU-4f1b8a2e-3c5d-4e6f-8a9b-0c1d2e3f4a5c", gpu)[0].uuid, devices[0].uuid);
});
