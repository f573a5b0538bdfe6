import assert from "node:assert/strict";
import { layoutFor, type SmiLayout } from "./layout.ts";
import { APP_FIELDS, GPU_FIELDS, parseFormat, renderCsv, renderList, resolveFields } from "./query.ts";
import { renderReport } from "./report.ts";
import { renderTable } from "./table.ts";
import { type SmiSystem, systemView } from "./view.ts";
import { a100MigNode, h100Node, T } from "./fixtures_test_util.ts";

/**
 * Golden files of every format for an H100 node (GPU 0 idle, GPU 1 busy) in both driver layouts. The first
 * line of each file names the command and the layout; `UPDATE_GOLDEN=1` rewrites them.
 */
const DRIVERS: Record<SmiLayout, { driver: string; cuda: string; source: string }> = {
  "580": {
    driver: "580.105.08",
    cuda: "13.0",
    source: "layout 580: nvidia-stack.md §6.1 (real 580.173.02 output)",
  },
  "535": {
    driver: "535.261.03",
    cuda: "12.2",
    source: "layout 535: checked against the real nvidia-smi 535.261.03 (tests/nvidia_smi/real/)",
  },
};

const QUERY =
  "index,name,uuid,pci.bus_id,driver_version,memory.total,memory.used,memory.free,utilization.gpu," +
  "utilization.memory,temperature.gpu,temperature.memory,power.draw,power.limit,clocks.sm,clocks.mem,pstate," +
  "fan.speed,mig.mode.current,compute_cap";

function csv(system: SmiSystem, fields: string, format: string): string {
  return renderCsv(resolveFields(fields, GPU_FIELDS), system.gpus, system, parseFormat(format)!);
}

function outputs(system: SmiSystem, layout: SmiLayout): Record<string, [string, string]> {
  const apps = system.gpus.flatMap((gpu) => gpu.processes.map((process) => ({ gpu, process })));
  return {
    table: ["nvidia-smi", renderTable(system, system.gpus, layout)],
    table_idle: ["nvidia-smi -i 0", renderTable(system, [system.gpus[0]], layout)],
    list: ["nvidia-smi -L", renderList(system.gpus)],
    query: [`nvidia-smi --query-gpu=${QUERY} --format=csv`, csv(system, QUERY, "csv")],
    query_noheader_nounits: [
      "nvidia-smi --query-gpu=index,memory.used,power.draw,utilization.gpu,fan.speed --format=csv,noheader,nounits",
      csv(system, "index,memory.used,power.draw,utilization.gpu,fan.speed", "csv,noheader,nounits"),
    ],
    apps: [
      "nvidia-smi --query-compute-apps=pid,process_name,used_memory,gpu_uuid --format=csv",
      renderCsv(resolveFields("pid,process_name,used_memory,gpu_uuid", APP_FIELDS), apps, system, {
        header: true,
        units: true,
      }),
    ],
    q: ["nvidia-smi -q", renderReport(system, system.gpus)],
  };
}

for (const layout of ["580", "535"] as const) {
  const { driver, cuda, source } = DRIVERS[layout];
  const state = h100Node(driver, cuda);
  Deno.test(`golden: H100 node, idle and busy GPU, driver ${driver} (${source})`, async () => {
    assert.equal(layoutFor(driver), layout);
    const system = systemView(state, state.devices, new Date(T * 1000));
    for (const [name, [command, text]] of Object.entries(outputs(system, layout))) {
      const file = new URL(`./testdata/h100_${layout}_${name}.txt`, import.meta.url);
      const golden = `# ${command} — ${source}; driver ${driver}\n${text}`;
      if (Deno.env.get("UPDATE_GOLDEN")) await Deno.writeTextFile(file, golden);
      assert.equal(golden, await Deno.readTextFile(file), `${file.pathname} differs`);
    }
  });
}

/**
 * Golden file of the default output of an A100 node with MIG devices on GPU 0. Its header says which lines of
 * the `MIG devices:` table come from the reference and which are inferred (see `mig_table.ts`).
 */
Deno.test("golden: A100 node with MIG devices, driver 580.105.08 (MIG devices table and GI/CI of processes)", async () => {
  const state = a100MigNode();
  const system = systemView(state, state.devices, new Date(T * 1000));
  const file = new URL("./testdata/a100_mig_580_table.txt", import.meta.url);
  const golden =
    "# nvidia-smi — layout 580: nvidia-stack.md §6.1; MIG devices table: the two header lines and the " +
    "two lines per device from §6.1, the title box, column borders and `=` line inferred from the other " +
    "tables, BAR1 and engine counts N/A (not simulated); driver 580.105.08\n" +
    renderTable(system, system.gpus, "580");
  if (Deno.env.get("UPDATE_GOLDEN")) await Deno.writeTextFile(file, golden);
  assert.equal(golden, await Deno.readTextFile(file), `${file.pathname} differs`);
});
