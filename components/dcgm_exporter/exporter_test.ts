import assert from "node:assert/strict";
import { testState } from "../core/test_state.ts";
import type { NodeGpuState } from "../core/node_state.ts";
import { CountersFileError, parseCounters } from "./counters.ts";
import { DCGM_FIELDS, DEFAULT_COUNTERS_CSV } from "./fields.ts";
import { MetricsSource } from "./exporter.ts";
import { escapeLabelValue, negotiateFormat } from "./render.ts";
import { loadCounters } from "./mod.ts";
import { parseListenAddress } from "../core/flags.ts";

const T = Date.UTC(2026, 11, 3, 12) / 1000;

function nodeState(node: string, kwok = true): NodeGpuState {
  return { ...testState(node, "h100", 2), kwok };
}

function scrape(source: MetricsSource, format: "text" | "openmetrics" = "text"): string {
  const decoder = new TextDecoder();
  return [...source.render(T, format)].map((chunk) => decoder.decode(chunk)).join("");
}

function seriesOf(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(`${name}{`));
}

Deno.test("the default counters are dcgm-exporter's: every family with its type and help", () => {
  const counters = loadCounters(undefined);
  assert.equal(counters.filter((c) => c.type !== "label").length, 25);
  assert.deepEqual(counters.filter((c) => c.type === "label").map((c) => c.name), ["DCGM_FI_DRIVER_VERSION"]);
  const text = scrape(new MetricsSource(counters, { kind: "kwok" }));
  assert.equal(text, "", "no GPUs, no families");
  const source = new MetricsSource(counters, { kind: "kwok" });
  source.update("kwok-h100-0", nodeState("kwok-h100-0"));
  const out = scrape(source);
  assert.match(
    out,
    /^# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency \(in MHz\)\.\n# TYPE DCGM_FI_DEV_SM_CLOCK gauge\n/,
  );
  assert.match(out, /\n# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n/);
  for (const c of counters.filter((c) => c.type !== "label")) {
    assert.equal(seriesOf(out, c.name).length, 2, c.name);
  }
  assert.ok(out.endsWith("\n"));
});

Deno.test("series carry the real label set and order, integers as %d and doubles with six decimals", () => {
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  const state = nodeState("kwok-h100-0");
  source.update(state.node, state);
  const out = scrape(source);
  const [temp] = seriesOf(out, "DCGM_FI_DEV_GPU_TEMP");
  const d = state.devices[0];
  assert.match(
    temp,
    new RegExp(
      `^DCGM_FI_DEV_GPU_TEMP\\{gpu="0",UUID="${d.uuid}",pci_bus_id="${
        d.pciBusId.replace(".", "\\.")
      }",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="kwok-h100-0",DCGM_FI_DRIVER_VERSION="580\\.105\\.08"\\} \\d+$`,
    ),
  );
  assert.match(seriesOf(out, "DCGM_FI_DEV_POWER_USAGE")[0], /\} \d+\.\d{6}$/);
  assert.match(seriesOf(out, "DCGM_FI_PROF_GR_ENGINE_ACTIVE")[0], /\} 0\.000000$/);
  assert.match(
    seriesOf(out, "DCGM_FI_DEV_XID_ERRORS")[0],
    /DCGM_FI_DRIVER_VERSION="580\.105\.08",err_code="0",err_msg="No Error"\} 0$/,
  );
});

Deno.test("pod attribution sits on exactly the held GPUs and goes with the holder", () => {
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  const state = nodeState("kwok-h100-0");
  const held: NodeGpuState = {
    ...state,
    devices: [
      { ...state.devices[0], holders: [{ namespace: "ml", pod: "train-0", podUid: "u", container: "main" }] },
      state.devices[1],
    ],
  };
  source.update(state.node, held);
  const [gpu0, gpu1] = seriesOf(scrape(source), "DCGM_FI_DEV_GPU_UTIL");
  assert.match(
    gpu0,
    /DCGM_FI_DRIVER_VERSION="580\.105\.08",container="main",namespace="ml",pod="train-0"\} 100$/,
  );
  assert.doesNotMatch(gpu1, /pod=/);
  assert.match(
    seriesOf(scrape(source), "DCGM_FI_DEV_XID_ERRORS")[0],
    /container="main",err_code="0",err_msg="No Error",namespace="ml",pod="train-0"\}/,
  );
  source.update(state.node, state);
  assert.doesNotMatch(scrape(source), /pod=/);
  source.update(state.node, undefined);
  assert.equal(scrape(source), "");
});

Deno.test("the scope picks the nodes: kwok serves KWOK nodes, this-node only its own", () => {
  const kwok = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  const mine = new MetricsSource(loadCounters(undefined), { kind: "this-node", node: "real-0" });
  for (const s of [nodeState("kwok-0"), nodeState("real-0", false), nodeState("real-1", false)]) {
    kwok.update(s.node, s);
    mine.update(s.node, s);
  }
  assert.deepEqual(
    [...new Set(seriesOf(scrape(kwok), "DCGM_FI_DEV_GPU_UTIL").map((l) => /Hostname="([^"]+)"/.exec(l)![1]))],
    ["kwok-0"],
  );
  assert.deepEqual(
    [...new Set(seriesOf(scrape(mine), "DCGM_FI_DEV_GPU_UTIL").map((l) => /Hostname="([^"]+)"/.exec(l)![1]))],
    ["real-0"],
  );
});

Deno.test("a GPU fallen off the bus has no series; an XID shows with its code and message", () => {
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  const state = nodeState("kwok-h100-0");
  source.update(state.node, {
    ...state,
    devices: [{ ...state.devices[0], faults: { fallenOffBus: true } }, {
      ...state.devices[1],
      faults: { xid: 48 },
    }],
  });
  const out = scrape(source);
  assert.equal(seriesOf(out, "DCGM_FI_DEV_GPU_TEMP").length, 1);
  assert.match(
    seriesOf(out, "DCGM_FI_DEV_XID_ERRORS")[0],
    /err_code="48",err_msg="Double Bit ECC Error"\} 48$/,
  );
});

Deno.test("OpenMetrics keeps DCGM's names, types counters without _total as unknown and ends with # EOF", () => {
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  source.update("n", nodeState("n"));
  const out = scrape(source, "openmetrics");
  assert.ok(out.endsWith("# EOF\n"));
  assert.match(
    out,
    /# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION unknown\n# HELP DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION /,
  );
  assert.equal(seriesOf(out, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION").length, 2);
  assert.equal(negotiateFormat("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"), "openmetrics");
  assert.equal(negotiateFormat("text/plain"), "text");
  assert.equal(negotiateFormat(null), "text");
});

Deno.test("label values and help texts are escaped", () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const counters = parseCounters('DCGM_FI_DEV_GPU_UTIL, gauge, 100% \\ of "it"', "x.csv");
  const source = new MetricsSource(counters, { kind: "kwok" });
  const state = nodeState('we"ird');
  source.update(state.node, state);
  const out = scrape(source);
  assert.match(out, /# HELP DCGM_FI_DEV_GPU_UTIL 100% \\\\ of "it"\n/);
  assert.match(out, /Hostname="we\\"ird"/);
});

Deno.test("counters files: extra fields switch on, bad lines are errors naming the line", () => {
  const extra = parseCounters(
    "# comment\nDCGM_FI_PROF_SM_ACTIVE, gauge, SM active.\nDCGM_FI_DEV_FB_TOTAL, gauge, FB total.\n" +
      "DCGM_FI_DEV_SERIAL, label, Serial\n",
    "mine.csv",
  );
  const source = new MetricsSource(extra, { kind: "kwok" });
  const state = nodeState("n");
  source.update("n", state);
  const out = scrape(source);
  assert.match(seriesOf(out, "DCGM_FI_DEV_FB_TOTAL")[0], /DCGM_FI_DEV_SERIAL="\d{13}"\} 81559$/);
  assert.equal(seriesOf(out, "DCGM_FI_PROF_SM_ACTIVE").length, 2);
  const bad: [string, RegExp][] = [
    [
      "DCGM_FI_DEV_GPU_UTIL, gauge, ok\nDCGM_FI_DEV_NOPE, gauge, x",
      /^b\.csv:2: unknown DCGM field "DCGM_FI_DEV_NOPE"/,
    ],
    [
      "DCGM_FI_DEV_GPU_UTIL, histogram, x",
      /b\.csv:1: type of DCGM_FI_DEV_GPU_UTIL must be gauge, counter or label/,
    ],
    ["DCGM_FI_DEV_GPU_UTIL", /b\.csv:1: expected "DCGM field, type, help"/],
    ["DCGM_FI_DRIVER_VERSION, gauge, x", /b\.csv:1: DCGM_FI_DRIVER_VERSION is a label field/],
    ["DCGM_FI_DRIVER_VERSION, label, x", /no metric fields/],
  ];
  for (const [text] of bad) assert.throws(() => parseCounters(text, "b.csv"), CountersFileError);
  for (const [text, message] of bad) {
    assert.throws(() => parseCounters(text, "b.csv"), (err: Error) => message.test(err.message));
  }
  for (const line of DEFAULT_COUNTERS_CSV.split("\n").filter((l) => /^# DCGM_FI_/.test(l))) {
    const name = line.slice(2).split(",")[0].trim();
    assert.ok(DCGM_FIELDS[name], `${name} (commented in the default file) can be switched on`);
  }
});

Deno.test("parseListenAddress() reads dcgm-exporter's [host]:port", () => {
  assert.deepEqual(parseListenAddress(":9400"), { hostname: "0.0.0.0", port: 9400 });
  assert.deepEqual(parseListenAddress("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
  assert.deepEqual(parseListenAddress("[::1]:9400"), { hostname: "::1", port: 9400 });
});

Deno.test("a MIG GPU exports one series per GPU instance with the parent's gpu and UUID plus GPU_I_PROFILE/GPU_I_ID", () => {
  const state = nodeState("kwok-h100-0");
  const [parent, whole] = state.devices;
  const holder = { namespace: "team", pod: "p", podUid: "uid-p", container: "main" };
  const mig = [
    {
      profile: "1g.10gb",
      giId: 7,
      placementStart: 0,
      placementSize: 1,
      uuid: "MIG-a686709d-6dc2-542a-8851-0d2508448c10",
    },
    {
      profile: "3g.40gb",
      giId: 2,
      placementStart: 4,
      placementSize: 4,
      uuid: "MIG-53864714-0a66-5df2-9007-9268e30d9a72",
      holder,
    },
  ];
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  source.update(state.node, { ...state, migStrategy: "mixed", devices: [{ ...parent, mig }, whole] });
  const lines = seriesOf(scrape(source), "DCGM_FI_DEV_FB_FREE");
  assert.equal(lines.length, 3);
  const prefix =
    `DCGM_FI_DEV_FB_FREE{gpu="0",UUID="${parent.uuid}",pci_bus_id="${parent.pciBusId}",device="nvidia0",` +
    `modelName="NVIDIA H100 80GB HBM3",`;
  assert.ok(
    lines[0].startsWith(`${prefix}GPU_I_PROFILE="1g.10gb",GPU_I_ID="7",Hostname="kwok-h100-0",`),
    lines[0],
  );
  assert.ok(
    lines[1].startsWith(`${prefix}GPU_I_PROFILE="3g.40gb",GPU_I_ID="2",Hostname="kwok-h100-0",`),
    lines[1],
  );
  assert.match(lines[1], /,container="main",namespace="team",pod="p"\} \d+$/);
  assert.doesNotMatch(lines[0], /pod=/);
  assert.ok(Number(lines[0].split(" ").pop()) < 9984, "a 1g.10gb instance has its own framebuffer");
  assert.ok(
    lines[2].startsWith(`DCGM_FI_DEV_FB_FREE{gpu="1",UUID="${whole.uuid}",`) && !lines[2].includes("GPU_I_"),
  );
});
