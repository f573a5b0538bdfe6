import assert from "node:assert/strict";
import { MetricsSource } from "../dcgm_exporter/exporter.ts";
import { loadCounters } from "../dcgm_exporter/mod.ts";
import { APP_FIELDS, GPU_FIELDS, parseFormat, renderCsv, resolveFields } from "./query.ts";
import { systemView } from "./view.ts";
import { h100Node, T } from "./fixtures_test_util.ts";

/** nvidia-smi's field and the exporter's DCGM field that must show the same value. */
const PAIRS: [string, string][] = [
  ["utilization.gpu", "DCGM_FI_DEV_GPU_UTIL"],
  ["utilization.memory", "DCGM_FI_DEV_MEM_COPY_UTIL"],
  ["memory.used", "DCGM_FI_DEV_FB_USED"],
  ["memory.free", "DCGM_FI_DEV_FB_FREE"],
  ["temperature.gpu", "DCGM_FI_DEV_GPU_TEMP"],
  ["temperature.memory", "DCGM_FI_DEV_MEMORY_TEMP"],
  ["power.draw", "DCGM_FI_DEV_POWER_USAGE"],
  ["clocks.sm", "DCGM_FI_DEV_SM_CLOCK"],
  ["clocks.mem", "DCGM_FI_DEV_MEM_CLOCK"],
];

/** Every series of a scrape: name, labels, value. */
function scrape(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((line) => {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line)!;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    return { name: m[1], labels, value: Number(m[3]) };
  });
}

Deno.test("nvidia-smi shows the exporter's values at the same instant, and the holder pod's process", () => {
  const state = h100Node();
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  source.update(state.node, state);
  const series = scrape([...source.render(T, "text")].map((c) => new TextDecoder().decode(c)).join(""));

  const system = systemView(state, state.devices, new Date(T * 1000));
  const csv = renderCsv(
    resolveFields(["uuid", ...PAIRS.map(([f]) => f)].join(","), GPU_FIELDS),
    system.gpus,
    system,
    parseFormat("csv,noheader,nounits")!,
  );
  const rows = csv.trimEnd().split("\n").map((r) => r.split(", "));
  assert.equal(rows.length, 2);
  for (const [uuid, ...values] of rows) {
    PAIRS.forEach(([field, dcgm], i) => {
      const s = series.find((x) => x.name === dcgm && x.labels.UUID === uuid)!;
      const expected = field === "power.draw" ? s.value.toFixed(2) : String(s.value);
      assert.equal(values[i], expected, `${field} of ${uuid}`);
    });
  }
  assert.notEqual(rows[1][1], "0", "the busy GPU is busy");

  const apps = system.gpus.flatMap((gpu) => gpu.processes.map((process) => ({ gpu, process })));
  const held = series.filter((s) => s.name === "DCGM_FI_DEV_GPU_UTIL" && s.labels.pod);
  assert.deepEqual(
    renderCsv(resolveFields("gpu_uuid,process_name,used_memory", APP_FIELDS), apps, system, {
      header: false,
      units: false,
    }),
    held.map((s) => {
      const used = series.find((x) => x.name === "DCGM_FI_DEV_FB_USED" && x.labels.UUID === s.labels.UUID)!;
      return `${s.labels.UUID}, ${s.labels.container}, ${used.value}\n`;
    }).join(""),
  );
});

Deno.test("a GPU fallen off the bus: no series in the exporter, and nvidia-smi cannot open it", () => {
  const state = h100Node();
  state.devices[0] = { ...state.devices[0], faults: { fallenOffBus: true } };
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  source.update(state.node, state);
  const scraped = [...source.render(T, "text")].map((c) => new TextDecoder().decode(c)).join("");
  assert.ok(!scraped.includes(state.devices[0].uuid));
  const system = systemView(state, state.devices, new Date(T * 1000));
  assert.deepEqual(system.gpus.map((g) => g.uuid), [state.devices[1].uuid]);
  assert.deepEqual(system.lost, [state.devices[0].pciBusId]);
});

Deno.test("a GPU shared by several pods: one process per pod, their memory adding up to the exporter's FB_USED", () => {
  const state = h100Node();
  const [owner] = state.devices[1].holders!;
  const guest = { ...owner, pod: "guest-0", podUid: "uid-guest", container: "guest", memoryUsedMiB: 8192 };
  state.devices[1] = { ...state.devices[1], holders: [owner, guest] };
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  source.update(state.node, state);
  const series = scrape([...source.render(T, "text")].map((c) => new TextDecoder().decode(c)).join(""));
  const fbUsed = series.find((s) =>
    s.name === "DCGM_FI_DEV_FB_USED" && s.labels.UUID === state.devices[1].uuid
  )!;
  assert.equal(fbUsed.value, owner.memoryUsedMiB! + 8192);
  assert.equal(fbUsed.labels.pod, owner.pod, "the exporter labels a shared GPU with its first holder");
  const system = systemView(state, state.devices, new Date(T * 1000));
  assert.deepEqual(system.gpus[1].processes.map((p) => [p.name, p.usedMiB]), [
    [owner.container, owner.memoryUsedMiB],
    ["guest", 8192],
  ]);
});
