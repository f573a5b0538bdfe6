import assert from "node:assert/strict";
import { findGpuModel, GPU_CATALOGUE, sanitiseProductName, unknownGpuModel } from "./catalogue.ts";

/** GFD's family rule (nvidia-stack.md §4), to check every model's family against its compute capability. */
function gfdFamily(major: number, minor: number): string {
  if (major === 7) return minor < 5 ? "volta" : "turing";
  if (major === 8) return minor < 9 ? "ampere" : "ada-lovelace";
  if (major === 9) return "hopper";
  if (major === 10 || major === 12) return "blackwell";
  return "undefined";
}

Deno.test("GPU_CATALOGUE holds the required models under their exact nvidia-smi names", () => {
  const names = GPU_CATALOGUE.map((model) => model.name);
  for (
    const name of [
      "NVIDIA H100 80GB HBM3",
      "NVIDIA H100 PCIe",
      "NVIDIA H100 NVL",
      "NVIDIA H200",
      "NVIDIA GH200 480GB",
      "NVIDIA B200",
      "NVIDIA GB200",
      "NVIDIA A100-SXM4-80GB",
      "NVIDIA A100-SXM4-40GB",
      "NVIDIA A100 80GB PCIe",
      "NVIDIA A100-PCIE-40GB",
      "NVIDIA A30",
      "NVIDIA L40S",
      "NVIDIA L4",
      "NVIDIA A10G",
      "NVIDIA A10",
      "Tesla T4",
      "Tesla V100-SXM2-16GB",
    ]
  ) {
    assert.ok(names.includes(name), `missing ${name}`);
  }
});

Deno.test("GPU_CATALOGUE keys, names and GFD products are unique", () => {
  for (const pick of [(m: { key: string }) => m.key, (m: { name: string }) => m.name]) {
    const values = GPU_CATALOGUE.map(pick);
    assert.equal(new Set(values).size, values.length);
  }
  const products = GPU_CATALOGUE.map((model) => sanitiseProductName(model.name).toLowerCase());
  assert.equal(new Set(products).size, products.length);
});

Deno.test("GPU_CATALOGUE models are internally consistent", () => {
  for (const model of GPU_CATALOGUE) {
    const at = model.key;
    assert.equal(model.family, gfdFamily(model.computeCapability.major, model.computeCapability.minor), at);
    assert.ok(model.power.idleW < model.power.loadW && model.power.loadW <= model.power.capW, at);
    assert.ok(model.temperature.idleC < model.temperature.loadC && model.temperature.loadC < 90, at);
    assert.ok(model.clocks.smIdleMHz < model.clocks.smMaxMHz, at);
    assert.ok(model.pciDeviceId > 0 && model.pciDeviceId <= 0xFFFF, at);
    assert.ok(Number.isInteger(model.memoryMiB) && model.memoryMiB > 0, at);
    assert.ok((model.gpusPerNode ?? 8) >= 1, at);
    // HBM boards idle in P0, GDDR boards in P8 (§6.1); GDDR boards report no memory offset.
    if (model.idlePerfState === "P8") assert.equal(model.temperature.memoryOffsetC, 0, at);
  }
});

Deno.test("GPU_CATALOGUE is frozen so no role can change a shared model", () => {
  const h100 = GPU_CATALOGUE[0];
  assert.throws(() => {
    (h100 as { memoryMiB: number }).memoryMiB = 1;
  }, TypeError);
  assert.throws(() => h100.migProfiles.push(h100.migProfiles[0]), TypeError);
  assert.ok(Object.isFrozen(h100.power));
});

Deno.test("GPU_CATALOGUE MIG profiles fit their GPU", () => {
  const migCapable = GPU_CATALOGUE.filter((model) => model.migProfiles.length > 0).map((model) => model.key);
  assert.deepEqual(migCapable, [
    "h100",
    "h100-pcie",
    "h100-nvl",
    "h200",
    "gh200",
    "b200",
    "gb200",
    "a100-80gb",
    "a100-40gb",
    "a100-80gb-pcie",
    "a100-40gb-pcie",
    "a30",
  ]);
  for (const model of GPU_CATALOGUE) {
    const names = model.migProfiles.map((profile) => profile.name);
    assert.equal(new Set(names).size, names.length, model.key);
    for (const profile of model.migProfiles) {
      const at = `${model.key} ${profile.name}`;
      assert.match(profile.name, /^[1-7]g\.\d+gb(\+me)?$/, at);
      assert.ok(profile.memoryMiB > 0 && profile.memoryMiB <= model.memoryMiB, at);
      assert.ok(profile.smCount > 0 && profile.smCount <= model.smCount, at);
      assert.ok(profile.maxCount >= 1 && profile.maxCount <= 7, at);
      // The smallest profiles together never exceed the GPU's memory.
      assert.ok(profile.memoryMiB * profile.maxCount <= model.memoryMiB, at);
    }
  }
});

Deno.test("GPU_CATALOGUE H100 MIG profiles match the observed lgip listing", () => {
  const h100 = findGpuModel("h100");
  assert.deepEqual(h100?.migProfiles.find((profile) => profile.name === "1g.10gb"), {
    name: "1g.10gb",
    giProfileId: 19,
    maxCount: 7,
    memoryMiB: 9984,
    smCount: 16,
  });
  assert.deepEqual(
    h100?.migProfiles.map((profile) => [profile.name, profile.giProfileId]),
    [["1g.10gb", 19], ["1g.10gb+me", 20], ["1g.20gb", 15], ["2g.20gb", 14], ["3g.40gb", 9], ["4g.40gb", 5], [
      "7g.80gb",
      0,
    ]],
  );
});

Deno.test("findGpuModel() resolves short keys, names and GFD products case-insensitively", () => {
  const cases: [string, string][] = [
    ["h100", "NVIDIA H100 80GB HBM3"],
    ["H100", "NVIDIA H100 80GB HBM3"],
    ["a100-80gb", "NVIDIA A100-SXM4-80GB"],
    ["a100-40gb", "NVIDIA A100-SXM4-40GB"],
    ["a100", "NVIDIA A100-SXM4-80GB"],
    ["l40s", "NVIDIA L40S"],
    ["t4", "Tesla T4"],
    ["b200", "NVIDIA B200"],
    ["gb200", "NVIDIA GB200"],
    ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"],
    ["nvidia h100 80gb hbm3", "NVIDIA H100 80GB HBM3"],
    ["NVIDIA-H100-80GB-HBM3", "NVIDIA H100 80GB HBM3"],
    ["NVIDIA-A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB"],
    ["Tesla-T4", "Tesla T4"],
    ["NVIDIA-A100-80GB-PCIe", "NVIDIA A100 80GB PCIe"],
    ["  NVIDIA-L40S  ", "NVIDIA L40S"],
    ["NVIDIA T4", "Tesla T4"],
    ["NVIDIA GB200 NVL", "NVIDIA GB200"],
    ["NVIDIA-GB200-NVL", "NVIDIA GB200"],
  ];
  for (const [query, name] of cases) {
    assert.equal(findGpuModel(query)?.name, name, query);
  }
});

Deno.test("findGpuModel() returns undefined for unknown products", () => {
  for (const query of ["Tesla-K80", "", "h100x", "NVIDIA H100"]) {
    assert.equal(findGpuModel(query), undefined, query);
  }
});

Deno.test("unknownGpuModel() keeps the product name and memory with neutral defaults", () => {
  const model = unknownGpuModel("Tesla-K80", 11441);
  assert.equal(model.key, "tesla-k80");
  assert.equal(model.name, "Tesla-K80");
  assert.equal(model.memoryMiB, 11441);
  assert.equal(model.family, "undefined");
  assert.deepEqual(model.computeCapability, { major: 0, minor: 0 });
  assert.deepEqual(model.migProfiles, []);
  assert.equal(unknownGpuModel("???", 1024).key, "unknown");
});

Deno.test("sanitiseProductName() applies the GFD rule", () => {
  const cases: [string, string][] = [
    ["NVIDIA H100 80GB HBM3", "NVIDIA-H100-80GB-HBM3"],
    ["Tesla T4", "Tesla-T4"],
    ["NVIDIA A100-SXM4-40GB", "NVIDIA-A100-SXM4-40GB"],
    ["NVIDIA RTX A6000 (Ada)", "NVIDIA-RTX-A6000-Ada"],
    ["  Standard PC   (Q35 + ICH9, 2009)  ", "Standard-PC-Q35-ICH9-2009"],
    ["a_b.c", "a_b.c"],
    ["-x-", "x"],
    ["", ""],
  ];
  for (const [input, output] of cases) {
    assert.equal(sanitiseProductName(input), output, input);
  }
});

Deno.test("sanitiseProductName() returns a valid label value of at most 63 characters", () => {
  const long = sanitiseProductName("A".repeat(62) + " B");
  assert.equal(long, "A".repeat(62));
  const capped = sanitiseProductName("x".repeat(100));
  assert.equal(capped.length, 63);
  for (const model of GPU_CATALOGUE) {
    assert.match(sanitiseProductName(model.name), /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
  }
});
