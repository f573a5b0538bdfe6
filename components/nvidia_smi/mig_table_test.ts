import assert from "node:assert/strict";
import { MetricsSource } from "../dcgm_exporter/exporter.ts";
import { loadCounters } from "../dcgm_exporter/mod.ts";
import { renderTable } from "./table.ts";
import { systemView } from "./view.ts";
import { a100MigNode, h100Node, T } from "./fixtures_test_util.ts";

/** The lines of the default output between ` MIG devices:` and the blank line before the processes table. */
function migSection(text: string): string[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith("| MIG devices:"));
  if (start < 0) return [];
  return lines.slice(start, lines.indexOf(" ".repeat(91), start));
}

Deno.test("MIG devices table: one device per slot with the profile's memory and SMs and the state's GI ids", () => {
  const state = a100MigNode();
  const system = systemView(state, state.devices, new Date(T * 1000));
  const text = renderTable(system, system.gpus, "580");
  const rows = migSection(text).filter((l) => /^\|\s+\d/.test(l));
  const gi = state.devices[0].mig!.map((m) => m.giId);
  assert.deepEqual(rows, [
    `|  0 ${
      String(gi[0]).padStart(4)
    }   0   0  |               0MiB / 40192MiB    | 42      0 |N/A N/A  N/A  N/A  N/A |`,
    `|  0 ${
      String(gi[1]).padStart(4)
    }   0   1  |            6144MiB / 19968MiB    | 28      0 |N/A N/A  N/A  N/A  N/A |`,
    `|  0 ${
      String(gi[2]).padStart(4)
    }   0   2  |                0MiB / 9728MiB    | 14      0 |N/A N/A  N/A  N/A  N/A |`,
  ]);
  for (const line of text.split("\n").slice(1)) if (line) assert.equal(line.length, 91, line);
  const process = text.split("\n").find((l) => l.includes(" server "))!;
  assert.match(
    process,
    new RegExp(`^\\|    0 ${String(gi[1]).padStart(5)}    0 +\\d+      C   server +6144MiB \\|$`),
  );
});

Deno.test("MIG devices table: left out when no shown GPU has MIG devices, and in the 535 layout", () => {
  const h100 = h100Node();
  const plain = systemView(h100, h100.devices, new Date(T * 1000));
  assert.deepEqual(migSection(renderTable(plain, plain.gpus, "580")), []);
  const state = a100MigNode("535.261.03", "12.2");
  const system = systemView(state, state.devices, new Date(T * 1000));
  assert.deepEqual(migSection(renderTable(system, [system.gpus[1]], "580")), []);
  assert.deepEqual(migSection(renderTable(system, system.gpus, "535")), []);
});

Deno.test("MIG devices table: memory used is the exporter's FB_USED of the instance series", () => {
  const state = a100MigNode();
  const source = new MetricsSource(loadCounters(undefined), { kind: "kwok" });
  source.update(state.node, state);
  const scraped = [...source.render(T, "text")].map((c) => new TextDecoder().decode(c)).join("");
  const system = systemView(state, state.devices, new Date(T * 1000));
  const rows = migSection(renderTable(system, system.gpus, "580")).filter((l) => /^\|\s+\d/.test(l));
  for (const [i, m] of state.devices[0].mig!.entries()) {
    const used = new RegExp(`^DCGM_FI_DEV_FB_USED\\{[^}]*GPU_I_ID="${m.giId}"[^}]*\\} (\\d+)$`, "m").exec(
      scraped,
    )!;
    assert.match(rows[i], new RegExp(`\\| +${used[1]}MiB / `), `GI ${m.giId}`);
  }
});
