import assert from "node:assert/strict";
import { findGpuModel } from "./catalogue.ts";
import { gpuNodeLabels } from "./gfd_labels.ts";
import { resolveMigLayout } from "./mig_layout.ts";
import { parseTopology } from "./topology_config.ts";

const h100 =
  parseTopology({ nodePools: { h100: { gpuProduct: "NVIDIA-H100-80GB-HBM3", gpuCount: 8 } } }).pools.h100;

Deno.test("gpuNodeLabels() gives an H100 node GFD's real label values", () => {
  const labels = gpuNodeLabels({ pool: h100, migStrategy: "none", kwok: true });
  assert.equal(labels["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3");
  assert.equal(labels["nvidia.com/gpu.count"], "8");
  assert.equal(labels["nvidia.com/gpu.memory"], String(h100.model.memoryMiB));
  assert.equal(labels["nvidia.com/gpu.family"], "hopper");
  assert.equal(labels["nvidia.com/gpu.compute.major"], "9");
  assert.equal(labels["nvidia.com/gpu.compute.minor"], "0");
  assert.equal(labels["nvidia.com/cuda.driver-version.full"], "580.105.08");
  assert.equal(labels["nvidia.com/cuda.driver-version.revision"], "08");
  assert.equal(labels["nvidia.com/cuda.runtime-version.full"], "13.0");
  assert.equal(labels["nvidia.com/gpu.replicas"], "1");
  assert.equal(labels["nvidia.com/gpu.sharing-strategy"], "none");
  assert.equal(labels["nvidia.com/gpu.mode"], "compute");
  assert.equal(labels["nvidia.com/mig.capable"], "true");
  assert.equal(labels["nvidia.com/gpu.present"], "true");
  assert.equal(labels["nvidia.com/mig.strategy"], undefined);
});

Deno.test("gpuNodeLabels() marks per-node DaemonSets only on real nodes and names the MIG strategy", () => {
  const kwok = gpuNodeLabels({ pool: h100, migStrategy: "mixed", kwok: true });
  const real = gpuNodeLabels({ pool: h100, migStrategy: "mixed", kwok: false });
  assert.equal(kwok["nvidia.com/gpu.deploy.device-plugin"], undefined);
  assert.equal(real["nvidia.com/gpu.deploy.device-plugin"], "true");
  assert.equal(kwok["nvidia.com/mig.strategy"], "mixed");
});

Deno.test("gpuNodeLabels() values are all valid label values", () => {
  const l4 = { ...h100, model: findGpuModel("l4")! };
  for (const [key, value] of Object.entries(gpuNodeLabels({ pool: l4, migStrategy: "none", kwok: false }))) {
    assert.match(value, /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, key);
    assert.ok(value.length <= 63, key);
  }
  assert.equal(
    gpuNodeLabels({ pool: l4, migStrategy: "none", kwok: false })["nvidia.com/mig.capable"],
    "false",
  );
});

Deno.test("gpuNodeLabels() under mixed MIG adds GFD's nvidia.com/mig-<profile>.* set per profile of the node's layout", () => {
  const migLayout = resolveMigLayout(h100.model, "all-balanced", 8);
  const labels = gpuNodeLabels({ pool: h100, migStrategy: "mixed", kwok: true, migLayout });
  assert.equal(labels["nvidia.com/gpu.count"], "8");
  assert.equal(labels["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3");
  assert.deepEqual(
    Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith("nvidia.com/mig-1g.10gb."))),
    {
      "nvidia.com/mig-1g.10gb.count": "16",
      "nvidia.com/mig-1g.10gb.product": "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb",
      "nvidia.com/mig-1g.10gb.replicas": "1",
      "nvidia.com/mig-1g.10gb.sharing-strategy": "none",
      "nvidia.com/mig-1g.10gb.memory": "9984",
      "nvidia.com/mig-1g.10gb.multiprocessors": "16",
      "nvidia.com/mig-1g.10gb.slices.gi": "1",
      "nvidia.com/mig-1g.10gb.slices.ci": "1",
    },
  );
  assert.equal(labels["nvidia.com/mig-3g.40gb.count"], "8");
  assert.equal(labels["nvidia.com/mig-2g.20gb.count"], "8");
  assert.equal(labels["nvidia.com/mig-7g.80gb.count"], undefined);
});

Deno.test("gpuNodeLabels() under single MIG describes the MIG devices as the GPUs, or MIG-INVALID for mixed profiles", () => {
  const single = gpuNodeLabels({
    pool: h100,
    migStrategy: "single",
    kwok: true,
    migLayout: resolveMigLayout(h100.model, "all-1g.10gb", 8),
  });
  assert.equal(single["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb");
  assert.equal(single["nvidia.com/gpu.count"], "56");
  assert.equal(single["nvidia.com/gpu.memory"], "9984");
  assert.equal(single["nvidia.com/gpu.multiprocessors"], "16");
  assert.equal(single["nvidia.com/mig.strategy"], "single");
  const invalid = gpuNodeLabels({
    pool: h100,
    migStrategy: "single",
    kwok: true,
    migLayout: resolveMigLayout(h100.model, "all-balanced", 8),
  });
  assert.equal(invalid["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3-MIG-INVALID");
  assert.equal(invalid["nvidia.com/gpu.count"], "0");
});
