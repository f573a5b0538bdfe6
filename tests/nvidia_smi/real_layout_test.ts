/**
 * fakegpu's nvidia-smi layout 535 against the REAL nvidia-smi 535.261.03 (Debian non-free) running over
 * NVIDIA's mock NVML (real_smi.sh). The captures in real/ are written by capture_real.sh from the mock's
 * HGX H100 profile: idle, and `busy` (GPU 0 at 64 % with two processes). Views carrying the mock's values
 * must render byte for byte what the real tool printed; the `-q` report must have the real keys, order and
 * columns.
 */
import assert from "node:assert/strict";
import { findGpuModel } from "../../components/core/catalogue.ts";
import { gpuReadings } from "../../components/core/telemetry.ts";
import {
  APP_FIELDS,
  GPU_FIELDS,
  parseFormat,
  renderCsv,
  renderList,
  resolveFields,
} from "../../components/nvidia_smi/query.ts";
import { DISPLAY_SECTIONS, renderReport } from "../../components/nvidia_smi/report.ts";
import { renderTable } from "../../components/nvidia_smi/table.ts";
import type { SmiGpu, SmiProcess, SmiSystem } from "../../components/nvidia_smi/view.ts";

const REAL = new URL("./real/", import.meta.url);
const BUSES = ["1A", "1B", "4A", "4B", "8A", "8B", "CA", "CB"];

async function real(name: string): Promise<string> {
  return await Deno.readTextFile(new URL(name, REAL));
}

/** The mock's GPUs (mock-nvml-config-h100.yaml, and its busy variant from capture_real.sh). */
function mockSystem(busy: boolean, time: Date): SmiSystem {
  const h100 = findGpuModel("h100")!;
  const base = gpuReadings(h100, {
    index: 0,
    uuid: "GPU-01000100-0000-0000-0000-000000000000",
    pciBusId: "00000000:1A:00.0",
    serial: "1562821083900",
  }, 0)!;
  const processes: SmiProcess[] = busy
    ? [
      { pid: 4242, type: "M+C+G", name: "python3", usedMiB: 40459 },
      {
        pid: 123456789,
        type: "M+C+G",
        name: "/usr/local/bin/a-very-long-process-name-for-the-column-width",
        usedMiB: 1,
      },
    ]
    : [];
  const gpus = BUSES.map((bus, index): SmiGpu => ({
    index,
    minor: index,
    name: "NVIDIA H100 80GB HBM3",
    uuid: `GPU-01000100-0000-0000-0000-00000000000${index}`,
    pciBusId: `00000000:${bus}:00.0`,
    serial: `156282108390${index}`,
    architecture: "Hopper",
    computeCap: "9.0",
    pciDeviceId: "0x233010DE",
    pstate: "P0",
    migMode: "Disabled",
    powerLimitW: 700,
    maxSmClockMHz: 1980,
    memoryTotalMiB: 81920,
    readings: {
      ...base,
      gpuUtil: busy ? 64 : 0,
      memCopyUtil: busy ? 31 : 0,
      smClockMHz: 345,
      memClockMHz: 1593,
      gpuTempC: busy ? 51 : 34,
      memoryTempC: 32,
      powerW: busy ? 412.345 : 95,
      fb: { total: 81920, reserved: 1024, used: busy ? 40459 : 0, free: busy ? 40437 : 80896 },
      clockEventReasons: 1,
    },
    processes,
  }));
  return { time, smiVersion: "535.261.03", driverVersion: "550.163.01", cudaVersion: "12.4", gpus, lost: [] };
}

/** The instant in a capture's first line (`Thu Dec  3 18:38:24 2026`, UTC). */
function tableTime(text: string): Date {
  return new Date(`${text.split("\n")[0].trim()} UTC`);
}

Deno.test("layout 535: the default table of an idle and a busy H100 equals the real nvidia-smi's", async () => {
  for (const [file, busy] of [["default_idle.txt", false], ["default_busy.txt", true]] as const) {
    const text = await real(file);
    const system = mockSystem(busy, tableTime(text));
    assert.equal(renderTable(system, [system.gpus[0]], "535"), text, file);
  }
});

Deno.test("-L and the CSV queries equal the real nvidia-smi's", async () => {
  assert.equal(renderList(mockSystem(false, new Date()).gpus), await real("list.txt"));
  const query = await real("query_busy.txt");
  const [header, row] = query.trimEnd().split("\n");
  const time = new Date(`${row.split(", ")[0].replaceAll("/", "-").replace(" ", "T")}Z`);
  const system = mockSystem(true, time);
  const fields = header.split(", ").map((h) => h.replace(/ \[.*\]$/, ""));
  const gpu0 = [system.gpus[0]];
  assert.equal(
    renderCsv(resolveFields(fields.join(","), GPU_FIELDS), gpu0, system, parseFormat("csv")!),
    query,
  );
  assert.equal(
    renderCsv(
      resolveFields("index,memory.used,power.draw,utilization.gpu,fan.speed", GPU_FIELDS),
      gpu0,
      system,
      parseFormat("csv,noheader,nounits")!,
    ),
    await real("query_busy_noheader_nounits.txt"),
  );
  const apps = system.gpus[0].processes.map((process) => ({ gpu: system.gpus[0], process }));
  assert.equal(
    renderCsv(resolveFields("pid,process_name,used_memory,gpu_uuid,gpu_bus_id", APP_FIELDS), apps, system, {
      header: true,
      units: true,
    }),
    await real("query_apps_busy.txt"),
  );
});

Deno.test("-q -d: the real sections' keys, order, indentation and colon column", async () => {
  const text = await real("q_sections_busy.txt");
  const time = new Date(`${/Timestamp\s+: (.*)/.exec(text)![1]} UTC`);
  const system = mockSystem(true, time);
  const ours = renderReport(system, [system.gpus[0]], [...DISPLAY_SECTIONS]);
  const keys = (t: string) => t.split("\n").map((l) => l.slice(0, 44));
  assert.deepEqual(keys(ours), keys(text));
  const lines = ours.split("\n");
  for (
    const key of [
      "Used  ",
      "Free  ",
      "Gpu  ",
      "Power Draw  ",
      "GPU Current Temp",
      "Memory Current Temp",
      "Process ID",
    ]
  ) {
    const theirs = text.split("\n").filter((l) => l.trimStart().startsWith(key) && !l.includes("N/A"));
    for (const line of theirs.filter((l) => !l.endsWith(" 0 MiB") && !l.includes("262144"))) {
      assert.ok(lines.includes(line), `missing: ${line}`);
    }
  }
});

Deno.test("-q: the header and the identity keys appear as in the real report", async () => {
  const text = await real("q_head_idle.txt");
  const system = mockSystem(false, new Date(`${/Timestamp\s+: (.*)/.exec(text)![1]} UTC`));
  const ours = renderReport(system, [system.gpus[0]]).split("\n");
  const theirs = text.split("\n");
  assert.deepEqual(ours.slice(0, 10), theirs.slice(0, 10));
  const realKeys = theirs.map((l) => l.slice(0, 44));
  let at = 0;
  for (const line of ours.slice(10, ours.indexOf("    PCI"))) {
    const found = realKeys.indexOf(line.slice(0, 44), at);
    assert.ok(found >= at, `"${line}" is not in the real report after line ${at}`);
    at = found + 1;
  }
});
