import assert from "node:assert/strict";
import { findGpuModel } from "./catalogue.ts";
import type { GpuModel } from "./model.ts";
import {
  DEFAULT_TOPOLOGY_YAML,
  parseTopology,
  parseTopologyYaml,
  TopologyConfigError,
} from "./topology_config.ts";

const MiB = 2 ** 20;

function model(key: string): GpuModel {
  const found = findGpuModel(key);
  assert.ok(found, key);
  return found;
}

/** The issues of the TopologyConfigError that `parse` throws. */
function issuesOf(parse: () => unknown): string[] {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof TopologyConfigError, String(error));
    return error.issues;
  }
  assert.fail("expected a TopologyConfigError");
}

/** A legacy pool with one field replaced, for error cases. */
function legacy(fields: Record<string, unknown>): unknown {
  return { nodePools: { a100: { gpuProduct: "NVIDIA-A100-SXM4-80GB", gpuCount: 8, ...fields } } };
}

/** A new-format pool's `gpu:` block, for error cases. */
function modern(gpu: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown {
  return { nodePools: { h100: { gpu: { profile: "h100", ...gpu }, ...extra } } };
}

Deno.test("parseTopologyYaml() reads a legacy values file like its new-format equivalent", () => {
  const legacyYaml = `
topology:
  nodePoolLabelKey: run.ai/simulated-gpu-node-pool
  nodePools:
    a100:
      gpuProduct: NVIDIA-A100-SXM4-80GB
      gpuCount: 8
      gpuMemory: 81920
    h100:
      gpuProduct: NVIDIA-H100-80GB-HBM3
      gpuCount: 8
      gpuMemory: 81920
    l40s:
      gpuProduct: NVIDIA-L40S
      gpuCount: 4
      gpuMemory: 46068
`;
  const newYaml = `
cluster:
  nodePoolLabelKey: run.ai/simulated-gpu-node-pool
  migStrategy: none
  nodePools:
    a100:
      gpu:
        backend: fake
        profile: a100-80gb
        overrides:
          device_count: 8
    h100:
      gpu:
        profile: h100
        overrides:
          devices: [{}, {}, {}, {}, {}, {}, {}, {}]
          device_defaults:
            memory: {total_bytes: ${81920 * MiB}}
    l40s:
      gpu:
        overrides:
          device_count: 4
          device_defaults:
            name: NVIDIA L40S
            memory: {total_bytes: ${46068 * MiB}}
`;
  const fromLegacy = parseTopologyYaml(legacyYaml);
  assert.deepEqual(fromLegacy, parseTopologyYaml(newYaml));
  assert.deepEqual(fromLegacy.pools.h100, {
    name: "h100",
    model: { ...model("h100"), memoryMiB: 81920 },
    gpuCount: 8,
    driverVersion: "580.105.08",
    cudaVersion: "13.0",
    otherResources: {},
    backend: "fake",
  });
  assert.equal(fromLegacy.pools.a100.model, model("a100-80gb"));
  assert.equal(fromLegacy.pools.l40s.gpuCount, 4);
});

Deno.test("parseTopologyYaml() reads DEFAULT_TOPOLOGY_YAML with the defaults", () => {
  const topology = parseTopologyYaml(DEFAULT_TOPOLOGY_YAML);
  assert.equal(topology.nodePoolLabelKey, "run.ai/simulated-gpu-node-pool");
  assert.equal(topology.migStrategy, "none");
  assert.deepEqual(Object.keys(topology.pools), ["a100", "h100", "l40s"]);
  assert.deepEqual(
    Object.values(topology.pools).map((pool) => [pool.model.name, pool.gpuCount, pool.model.memoryMiB]),
    [["NVIDIA A100-SXM4-80GB", 8, 81920], ["NVIDIA H100 80GB HBM3", 8, 81559], ["NVIDIA L40S", 4, 46068]],
  );
  for (const pool of Object.values(topology.pools)) {
    assert.equal(pool.driverVersion, "580.105.08");
    assert.equal(pool.cudaVersion, "13.0");
    assert.equal(pool.backend, "fake");
  }
});

Deno.test("parseTopology() finds the topology at the top, under cluster: or under topology:", () => {
  const pools = { nodePools: { t4: { gpuProduct: "Tesla-T4", gpuCount: 2 } } };
  const other = { nodePools: { l4: { gpuProduct: "NVIDIA-L4", gpuCount: 1 } } };
  assert.deepEqual(Object.keys(parseTopology(pools).pools), ["t4"]);
  assert.deepEqual(Object.keys(parseTopology({ topology: pools, statusUpdater: { x: 1 } }).pools), ["t4"]);
  assert.deepEqual(Object.keys(parseTopology({ cluster: pools }).pools), ["t4"]);
  assert.deepEqual(Object.keys(parseTopology({ topology: pools, cluster: other }).pools), ["l4"]);
  assert.deepEqual(Object.keys(parseTopology({ topology: pools, cluster: {} }).pools), ["t4"]);
});

Deno.test("parseTopology() resolves legacy and new-format pools in one file", () => {
  const topology = parseTopology({
    nodePools: {
      default: { gpuProduct: "Tesla-T4", gpuCount: 2 },
      big: { gpu: { profile: "b200" } },
    },
  });
  assert.equal(topology.pools.default.model, model("t4"));
  assert.equal(topology.pools.default.gpuCount, 2);
  assert.equal(topology.pools.big.model, model("b200"));
  assert.equal(topology.pools.big.gpuCount, 8);
});

Deno.test("parseTopology() applies a legacy gpuMemory to a known product", () => {
  const pool = parseTopology(legacy({ gpuProduct: "NVIDIA-A100-SXM4-40GB", gpuMemory: 40537 })).pools.a100;
  assert.deepEqual(pool.model, { ...model("a100-40gb"), memoryMiB: 40537 });
  assert.equal(model("a100-40gb").memoryMiB, 40960);
});

Deno.test("parseTopology() builds a synthetic model for an unknown legacy product", () => {
  const topology = parseTopology({
    nodePools: { default: { gpuProduct: "Tesla-K80", gpuCount: 2, gpuMemory: 11441 } },
    nodePoolLabelKey: "example.com/gpu-pool",
    migStrategy: "mixed",
  });
  assert.equal(topology.nodePoolLabelKey, "example.com/gpu-pool");
  assert.equal(topology.migStrategy, "mixed");
  assert.equal(topology.pools.default.model.name, "Tesla-K80");
  assert.equal(topology.pools.default.model.memoryMiB, 11441);
  assert.deepEqual(topology.pools.default.model.migProfiles, []);
});

Deno.test("parseTopology() reads new-format counts as upstream does", () => {
  const count = (gpu: Record<string, unknown>) => parseTopology(modern(gpu)).pools.h100.gpuCount;
  assert.equal(count({}), 8);
  assert.equal(count({ overrides: { device_count: 3 } }), 3);
  assert.equal(count({ overrides: { devices: [{}, {}] } }), 2);
  assert.equal(count({ overrides: { device_count: 0, devices: [{}, {}] } }), 2);
  assert.equal(count({ overrides: { device_count: 5, devices: [{}, {}] } }), 5);
  assert.equal(count({ profile: "gb200" }), 4);
  assert.equal(count({ profile: "gh200" }), 1);
});

Deno.test("parseTopology() applies new-format name, memory and system overrides", () => {
  const renamed = parseTopology(modern({
    backend: "mock",
    overrides: {
      device_defaults: {
        name: "Renamed-H100",
        brand: "NVIDIA",
        memory: { total_bytes: 85899345920, used_bytes: 0 },
      },
      system: { driver_version: "550.163.01", cuda_version: "12.4", nvml_version: "12.550" },
      nvlink: { links: 18 },
    },
  })).pools.h100;
  assert.deepEqual(renamed.model, { ...model("h100"), name: "Renamed-H100", memoryMiB: 81920 });
  assert.equal(renamed.driverVersion, "550.163.01");
  assert.equal(renamed.cudaVersion, "12.4");
  assert.equal(renamed.backend, "mock");
  const swapped = parseTopology(modern({ overrides: { device_defaults: { name: "NVIDIA H100 PCIe" } } }));
  assert.equal(swapped.pools.h100.model, model("h100-pcie"));
  const nameOnly = parseTopology({
    nodePools: { x: { gpu: { overrides: { device_defaults: { name: "l4" } } } } },
  });
  assert.equal(nameOnly.pools.x.model, model("l4"));
  const unknown = parseTopology({
    nodePools: {
      x: {
        gpu: { overrides: { device_defaults: { name: "Acme X1", memory: { total_bytes: 1536 * MiB } } } },
      },
    },
  });
  assert.equal(unknown.pools.x.model.name, "Acme X1");
  assert.equal(unknown.pools.x.model.memoryMiB, 1536);
  assert.equal(unknown.pools.x.gpuCount, 8);
});

Deno.test("parseTopology() turns resources and otherDevices into sorted otherResources", () => {
  const topology = parseTopology({
    nodePools: {
      a: {
        gpu: { profile: "h100" },
        resources: [{ "rdma/rdma_shared_device_a": 1 }, { "nvidia.com/gpu": 8 }, { "example.com/fpga": 0 }],
      },
      b: {
        gpuProduct: "h100",
        gpuCount: 8,
        otherDevices: [{ name: "nvidia.com/mig-1g.10gb", count: 7 }, { name: "nvidia.com/gpu", count: 1 }],
      },
    },
  });
  assert.deepEqual(topology.pools.a.otherResources, {
    "example.com/fpga": 0,
    "rdma/rdma_shared_device_a": 1,
  });
  assert.deepEqual(Object.keys(topology.pools.a.otherResources), [
    "example.com/fpga",
    "rdma/rdma_shared_device_a",
  ]);
  assert.deepEqual(topology.pools.b.otherResources, { "nvidia.com/mig-1g.10gb": 7 });
});

Deno.test("parseTopology() sets driver and CUDA versions at the top and per pool", () => {
  const topology = parseTopology({
    driverVersion: "570.158.01",
    cudaVersion: 12.8,
    nodePools: {
      a: { gpuProduct: "t4", gpuCount: 1 },
      b: { gpuProduct: "t4", gpuCount: 1, driverVersion: "535.261.03", cudaVersion: "12.2" },
      c: { gpu: { profile: "t4", overrides: { system: { cuda_version: 13 } } } },
    },
  });
  assert.deepEqual(
    Object.values(topology.pools).map((pool) => [pool.driverVersion, pool.cudaVersion]),
    [["570.158.01", "12.8"], ["535.261.03", "12.2"], ["570.158.01", "13.0"]],
  );
});

Deno.test("parseTopologyYaml() keeps the text of unquoted version numbers", () => {
  const topology = parseTopologyYaml(`
driverVersion: 550.90
cudaVersion: 12.10
nodePools:
  a: {gpu: {profile: t4, overrides: {system: {cuda_version: 13.0}}}}
  b: {gpuProduct: t4, gpuCount: 1}
`);
  assert.equal(topology.pools.a.driverVersion, "550.90");
  assert.equal(topology.pools.a.cudaVersion, "13.0");
  assert.equal(topology.pools.b.cudaVersion, "12.10");
});

Deno.test("parseTopology() accepts the upstream keys it ignores", () => {
  const topology = parseTopology({
    gpuOperator: { version: "v24.9.0", values: {} },
    nodePools: {
      a: { gpuProduct: "h100", gpuCount: 8, numa: { zones: 2 } },
      b: { gpu: { profile: "h100" }, numa: { zones: 2, gpusPerZone: [6, 2] } },
    },
  });
  assert.deepEqual(Object.keys(topology.pools), ["a", "b"]);
  assert.deepEqual(parseTopology({ nodePools: {} }).pools, {});
});

Deno.test("parseTopology() names the pool and field of a bad gpuCount", () => {
  assert.deepEqual(issuesOf(() => parseTopology(legacy({ gpuCount: "eight" }))), [
    `nodePools.a100.gpuCount: expected a positive integer, got "eight"`,
  ]);
  const cases: [unknown, string][] = [
    [0, "expected a positive integer, got 0"],
    [1.5, "expected a positive integer, got 1.5"],
    [undefined, "expected a positive integer, got nothing"],
    [null, "expected a positive integer, got null"],
    [300, "expected at most 256 GPUs per node, got 300"],
  ];
  for (const [value, message] of cases) {
    assert.deepEqual(issuesOf(() => parseTopology(legacy({ gpuCount: value }))), [
      `nodePools.a100.gpuCount: ${message}`,
    ]);
  }
});

Deno.test("parseTopology() rejects bad legacy pool fields", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ gpuProduct: "" }, `nodePools.a100.gpuProduct: expected a non-empty string, got ""`],
    [{ gpuProduct: 7 }, "nodePools.a100.gpuProduct: expected a non-empty string, got 7"],
    [{ gpuMemory: -1 }, "nodePools.a100.gpuMemory: expected a positive integer, got -1"],
    [{ gpuMemory: "80Gi" }, `nodePools.a100.gpuMemory: expected a positive integer, got "80Gi"`],
    [{ otherDevices: { name: "x" } }, "nodePools.a100.otherDevices: expected a list, got a map"],
    [
      { otherDevices: [{ name: "a/b" }] },
      "nodePools.a100.otherDevices[0].count: expected a non-negative integer, got nothing",
    ],
    [
      { otherDevices: [{ name: "a/b", count: -2 }] },
      "nodePools.a100.otherDevices[0].count: expected a non-negative integer, got -2",
    ],
    [
      { otherDevices: [{ name: "a/b", count: 1, size: 2 }] },
      "nodePools.a100.otherDevices[0].size: unknown field",
    ],
    [
      { otherDevices: ["a/b"] },
      `nodePools.a100.otherDevices[0]: expected a map with name and count, got "a/b"`,
    ],
    [
      { otherDevices: [{ name: "fpga", count: 1 }] },
      `nodePools.a100.otherDevices[0].name: expected an extended resource name such as "rdma/hca", got "fpga"`,
    ],
    [
      { otherDevices: [{ name: "a/b", count: 1 }, { name: "a/b", count: 2 }] },
      `nodePools.a100.otherDevices[1].name: duplicate resource "a/b"`,
    ],
    [
      { driverVersion: "latest" },
      `nodePools.a100.driverVersion: expected a version like "580.105.08", got "latest"`,
    ],
    [{ cudaVersion: "12" }, `nodePools.a100.cudaVersion: expected a version like "13.0", got "12"`],
    [{ gpuCont: 8 }, `nodePools.a100.gpuCont: unknown field; did you mean "gpuCount"?`],
    [{ colour: "green" }, "nodePools.a100.colour: unknown field"],
  ];
  for (const [fields, message] of cases) {
    assert.deepEqual(issuesOf(() => parseTopology(legacy(fields))), [message], message);
  }
});

Deno.test("parseTopology() needs the memory of an unknown product", () => {
  assert.deepEqual(issuesOf(() => parseTopology(legacy({ gpuProduct: "Tesla-K80" }))), [
    `nodePools.a100.gpuMemory: required for the unknown product "Tesla-K80"`,
  ]);
  assert.deepEqual(
    issuesOf(() =>
      parseTopology({ nodePools: { x: { gpu: { overrides: { device_defaults: { name: "Acme" } } } } } })
    ),
    [`nodePools.x.gpu.overrides.device_defaults.memory.total_bytes: required for the unknown product "Acme"`],
  );
});

Deno.test("parseTopology() rejects bad new-format pool fields", () => {
  const cases: [unknown, string][] = [
    [
      modern({ profile: "k80" }),
      `nodePools.h100.gpu.profile: unknown GPU profile "k80"; known: h100, h100-pcie,`,
    ],
    [modern({ profile: "" }), `nodePools.h100.gpu.profile: expected a non-empty string, got ""`],
    [modern({ backend: "real" }), `nodePools.h100.gpu.backend: expected one of "fake", "mock", got "real"`],
    [modern({ profle: "h100" }), `nodePools.h100.gpu.profle: unknown field; did you mean "profile"?`],
    [modern({ overrides: [] }), "nodePools.h100.gpu.overrides: expected a map, got a list"],
    [
      modern({ overrides: { device_count: -1 } }),
      "nodePools.h100.gpu.overrides.device_count: expected a non-negative integer, got -1",
    ],
    [
      modern({ overrides: { device_count: 999 } }),
      "nodePools.h100.gpu.overrides.device_count: expected at most 256 GPUs per node, got 999",
    ],
    [modern({ overrides: { devices: 4 } }), "nodePools.h100.gpu.overrides.devices: expected a list, got 4"],
    [
      modern({ overrides: { device_defaults: { name: "" } } }),
      `nodePools.h100.gpu.overrides.device_defaults.name: expected a non-empty string, got ""`,
    ],
    [
      modern({ overrides: { device_defaults: { memory: { total_bytes: "80GiB" } } } }),
      `nodePools.h100.gpu.overrides.device_defaults.memory.total_bytes: expected a positive integer, got "80GiB"`,
    ],
    [
      modern({ overrides: { device_defaults: { memory: { total_bytes: 1000 } } } }),
      "nodePools.h100.gpu.overrides.device_defaults.memory.total_bytes: expected at least 1 MiB (1048576 bytes)",
    ],
    [
      modern({ overrides: { system: { cuda_version: "twelve" } } }),
      `nodePools.h100.gpu.overrides.system.cuda_version: expected a version like "13.0", got "twelve"`,
    ],
    [modern({}, { resources: { "a/b": 1 } }), "nodePools.h100.resources: expected a list, got a map"],
    [modern({}, { resources: ["a/b"] }), `nodePools.h100.resources[0]: expected a map, got "a/b"`],
    [
      modern({}, { resources: [{ "a/b": -1 }] }),
      `nodePools.h100.resources[0].a/b: expected a non-negative integer, got -1`,
    ],
    [
      modern({}, { resources: [{ "Bad Name": 1 }] }),
      `nodePools.h100.resources[0].Bad Name: expected an extended resource name such as "rdma/hca", got "Bad Name"`,
    ],
    [
      {
        nodePools: {
          x: { gpu: { overrides: { device_defaults: { name: "Acme", memory: { total_bytes: 5 } } } } },
        },
      },
      "nodePools.x.gpu.overrides.device_defaults.memory.total_bytes: expected at least 1 MiB (1048576 bytes)",
    ],
    [
      { nodePools: { x: { gpu: {} } } },
      "nodePools.x.gpu.profile: required unless overrides.device_defaults.name is set",
    ],
    [{ nodePools: { x: { gpu: "h100" } } }, `nodePools.x.gpu: expected a map, got "h100"`],
    [{ nodePools: { x: { resources: [] } } }, "nodePools.x.gpu: expected a map, got nothing"],
    [
      { nodePools: { x: { gpu: { profile: "h100" }, gpuProduct: "h100", gpuCount: 8 } } },
      "nodePools.x: mixes legacy fields (gpuProduct, gpuCount) with gpu:/resources:; use one format",
    ],
  ];
  for (const [input, message] of cases) {
    const issues = issuesOf(() => parseTopology(input));
    assert.equal(issues.length, 1, issues.join("\n"));
    assert.ok(issues[0].startsWith(message), `${issues[0]}\n  does not start with\n${message}`);
  }
});

Deno.test("parseTopology() rejects bad top-level fields", () => {
  const pools = { a: { gpuProduct: "t4", gpuCount: 1 } };
  const cases: [unknown, string[]][] = [
    [undefined, ["the topology config is empty"]],
    [null, ["the topology config is empty"]],
    ["nodePools", [`expected a map with nodePools, got "nodePools"`]],
    [[1, 2], ["expected a map with nodePools, got a list"]],
    [{}, ["nodePools: expected a map of pool names to pools, got nothing"]],
    [{ nodePools: [] }, ["nodePools: expected a map of pool names to pools, got a list"]],
    [{ nodePools: pools, migStrategy: "all" }, [
      `migStrategy: expected one of "none", "single", "mixed", got "all"`,
    ]],
    [
      { nodePools: pools, nodePoolLabelKey: "not a key" },
      [`nodePoolLabelKey: expected a label key such as "run.ai/simulated-gpu-node-pool", got "not a key"`],
    ],
    [{ nodePools: pools, driverVersion: "580" }, [
      `driverVersion: expected a version like "580.105.08", got "580"`,
    ]],
    [{ nodePools: pools, cudaVersion: true }, [`cudaVersion: expected a version like "13.0", got true`]],
    [{ nodePools: pools, migstrategy: "none" }, [`migstrategy: unknown field; did you mean "migStrategy"?`]],
    [{ nodePools: { a: "t4" } }, [`nodePools.a: expected a map, got "t4"`]],
    [
      { nodePools: { "gpu pool": { gpuProduct: "t4", gpuCount: 1 } } },
      ["nodePools.gpu pool: expected a pool name that is a valid label value (up to 63 letters, digits, -, _ or .)"],
    ],
    [
      { nodePool: pools },
      [
        `nodePool: unknown field; did you mean "nodePools"?`,
        "nodePools: expected a map of pool names to pools, got nothing",
      ],
    ],
  ];
  for (const [input, expected] of cases) {
    assert.deepEqual(
      issuesOf(() => parseTopology(input)).sort(),
      [...expected].sort(),
      JSON.stringify(input),
    );
  }
});

Deno.test("parseTopology() reports every problem in one error", () => {
  let caught: unknown;
  try {
    parseTopology({
      migStrategy: "sometimes",
      nodePools: {
        a100: { gpuProduct: "NVIDIA-A100-SXM4-80GB", gpuCount: "eight" },
        h100: { gpu: { profile: "h99" } },
        l40s: { gpuProduct: "NVIDIA-L40S", gpuCount: 4, gpuMemory: 0 },
      },
    });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof TopologyConfigError);
  assert.ok(caught instanceof Error);
  assert.equal(caught.name, "TopologyConfigError");
  assert.equal(caught.issues.length, 4);
  assert.match(caught.message, /^Invalid topology config \(4 problems\):\n- /);
  assert.ok(
    caught.issues.some((issue) => issue.startsWith("nodePools.h100.gpu.profile: unknown GPU profile")),
  );
  const single = issuesOf(() => parseTopology(legacy({ gpuCount: "eight" })));
  assert.throws(() => parseTopology(legacy({ gpuCount: "eight" })), {
    message: `Invalid topology config: ${single[0]}`,
  });
});

Deno.test("parseTopologyYaml() reports YAML syntax errors with source and line", () => {
  const issues = issuesOf(() => parseTopologyYaml("nodePools:\n  a100:\n    gpuCount: [8\n", "values.yaml"));
  assert.ok(issues.length >= 1);
  assert.match(issues[0], /^values\.yaml:\d+:\d+: YAML syntax error: /);
  const duplicate = issuesOf(() => parseTopologyYaml("nodePools: {}\nnodePools: {}\n"));
  assert.match(duplicate[0], /^topology\.yml:2:1: YAML syntax error: .*unique/);
});

Deno.test("parseTopologyYaml() prefixes config problems with source and line", () => {
  const text = `topology:
  nodePools:
    a100:
      gpuProduct: NVIDIA-A100-SXM4-80GB
      gpuCount: eight
    h100:
      gpu:
        profle: h100
`;
  assert.deepEqual(
    issuesOf(() => parseTopologyYaml(text, "values.yaml")).sort(),
    [
      `values.yaml:5: nodePools.a100.gpuCount: expected a positive integer, got "eight"`,
      `values.yaml:8: nodePools.h100.gpu.profle: unknown field; did you mean "profile"?`,
    ].sort(),
  );
  assert.deepEqual(issuesOf(() => parseTopologyYaml("")), ["topology.yml: the topology config is empty"]);
});

Deno.test("parseTopology() reads fakegpu's nodeCount in both formats and rejects a negative one", () => {
  const topology = parseTopology({
    nodePools: {
      a: { gpuProduct: "NVIDIA-L4", gpuCount: 1, nodeCount: 3 },
      b: { gpu: { profile: "l4" }, nodeCount: 0 },
      c: { gpuProduct: "NVIDIA-L4", gpuCount: 1 },
    },
  });
  assert.equal(topology.pools.a.nodeCount, 3);
  assert.equal(topology.pools.b.nodeCount, 0);
  assert.equal(topology.pools.c.nodeCount, undefined);
  assert.throws(
    () => parseTopology({ nodePools: { a: { gpuProduct: "NVIDIA-L4", gpuCount: 1, nodeCount: -1 } } }),
    /nodePools\.a\.nodeCount: expected a non-negative integer/,
  );
});

Deno.test("parseTopology() reads gpuOffer per pool and as a top-level default in both formats", () => {
  const topology = parseTopology({
    gpuOffer: "dra",
    nodePools: {
      a: { gpuProduct: "NVIDIA-L4", gpuCount: 1 },
      b: { gpu: { profile: "l4" }, gpuOffer: "both" },
      c: { gpuProduct: "NVIDIA-L4", gpuCount: 1, gpuOffer: "extended-resource" },
    },
  });
  assert.equal(topology.pools.a.gpuOffer, "dra");
  assert.equal(topology.pools.b.gpuOffer, "both");
  assert.equal(topology.pools.c.gpuOffer, "extended-resource");
  const plain = parseTopology({ nodePools: { a: { gpuProduct: "NVIDIA-L4", gpuCount: 1 } } });
  assert.equal(plain.pools.a.gpuOffer, undefined);
  assert.deepEqual(
    issuesOf(() => parseTopology({ nodePools: { a: { gpu: { profile: "l4" }, gpuOffer: "DRA" } } })),
    ['nodePools.a.gpuOffer: expected one of "extended-resource", "dra", "both", got "DRA"'],
  );
});

Deno.test("parseTopology() reads a pool's migConfig in both formats and checks it against the model", () => {
  const topology = parseTopology({
    migStrategy: "mixed",
    nodePools: {
      a100: { gpuProduct: "NVIDIA-A100-SXM4-80GB", gpuCount: 2, migConfig: "all-balanced" },
      h100: { gpu: { profile: "h100" }, migConfig: [["7g.80gb"], [], ["1g.10gb"], [], [], [], [], []] },
      plain: { gpuProduct: "NVIDIA-A100-SXM4-80GB", gpuCount: 1 },
    },
  });
  assert.equal(topology.pools.a100.migConfig, "all-balanced");
  assert.deepEqual(topology.pools.h100.migConfig?.[0], ["7g.80gb"]);
  assert.equal(topology.pools.plain.migConfig, undefined);
});

Deno.test("parseTopology() refuses MIG on a model without MIG, impossible layouts and MIG under strategy none", () => {
  assert.deepEqual(
    issuesOf(() =>
      parseTopology({
        migStrategy: "single",
        nodePools: {
          l40s: { gpuProduct: "NVIDIA-L40S", gpuCount: 4, migConfig: "all-1g.10gb" },
          t4: { gpu: { profile: "t4" }, migConfig: ["1g.10gb"] },
          a100: {
            gpuProduct: "NVIDIA-A100-SXM4-80GB",
            gpuCount: 1,
            migConfig: ["3g.40gb", "3g.40gb", "3g.40gb"],
          },
          bad: { gpuProduct: "NVIDIA-A100-SXM4-80GB", gpuCount: 1, migConfig: 7 },
        },
      })
    ),
    [
      "nodePools.l40s.migConfig: NVIDIA L40S does not support MIG",
      "nodePools.t4.migConfig: Tesla T4 does not support MIG",
      "nodePools.a100.migConfig: GPU 0: 3 × 3g.40gb, but at most 2 fit on NVIDIA A100-SXM4-80GB",
      `nodePools.bad.migConfig: expected a MIG config name such as "all-balanced", or a list of MIG profiles (per GPU), got 7`,
    ],
  );
  assert.deepEqual(issuesOf(() => parseTopology(legacy({ migConfig: "all-1g.10gb" }))), [
    `nodePools.a100.migConfig: needs migStrategy "single" or "mixed" (it is "none")`,
  ]);
  assert.equal(parseTopology(legacy({ migConfig: "all-disabled" })).pools.a100.migConfig, "all-disabled");
});

Deno.test("parseTopology() reads a pool's HAMi sharing in both formats, with HAMi's defaults", () => {
  assert.deepEqual(parseTopology(legacy({ sharing: { hami: {} } })).pools.a100.sharing, {
    hami: { splitCount: 10, memoryScaling: 1, coreScaling: 1, registerFormat: "json" },
  });
  const hami = { splitCount: 4, memoryScaling: 1.5, coreScaling: 2, registerFormat: "text" };
  assert.deepEqual(parseTopology(modern({}, { sharing: { hami } })).pools.h100.sharing, { hami });
  assert.equal(parseTopology(legacy({})).pools.a100.sharing, undefined);
  assert.equal(parseTopology(legacy({ sharing: { hami: {} }, replicas: 1 })).pools.a100.replicas, undefined);
});

Deno.test("parseTopology() rejects bad HAMi settings and HAMi with time-slicing, MIG or DRA", () => {
  assert.deepEqual(
    issuesOf(() =>
      parseTopology(
        legacy({ sharing: { hami: { splitCount: 0, memoryScaling: -1, registerFormat: "yaml" } } }),
      )
    ),
    [
      "nodePools.a100.sharing.hami.splitCount: expected a positive integer, got 0",
      "nodePools.a100.sharing.hami.memoryScaling: expected a positive number, got -1",
      `nodePools.a100.sharing.hami.registerFormat: expected one of "json", "text", got "yaml"`,
    ],
  );
  assert.deepEqual(issuesOf(() => parseTopology(legacy({ sharing: { hamii: {} } }))), [
    "nodePools.a100.sharing.hami: expected a map, got nothing",
    `nodePools.a100.sharing.hamii: unknown field; did you mean "hami"?`,
  ]);
  assert.deepEqual(
    issuesOf(() =>
      parseTopology({
        migStrategy: "mixed",
        nodePools: {
          ts: { gpuProduct: "NVIDIA-A100-SXM4-80GB", gpuCount: 8, replicas: 4, sharing: { hami: {} } },
          mig: {
            gpuProduct: "NVIDIA-A100-SXM4-80GB",
            gpuCount: 8,
            migConfig: "all-balanced",
            sharing: { hami: {} },
          },
          dra: { gpu: { profile: "h100" }, gpuOffer: "dra", sharing: { hami: {} } },
        },
      })
    ),
    [
      "nodePools.ts.sharing.hami: HAMi sharing cannot be combined with replicas (time-slicing)",
      "nodePools.mig.sharing.hami: HAMi sharing cannot be combined with a migConfig (MIG)",
      `nodePools.dra.sharing.hami: HAMi sharing cannot be combined with gpuOffer "dra" (HAMi shares GPUs ` +
      `advertised as nvidia.com/gpu only; use "extended-resource")`,
    ],
  );
});
