/**
 * The exposition dcgm-exporter writes: per family `# HELP` and `# TYPE`, then one sample per GPU with the
 * real label set and order — `gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`, `Hostname`, then the
 * label-type fields sorted by name, then the attributes (`container`, `namespace`, `pod`, and `err_code`,
 * `err_msg` on XID series) sorted by name. Integers print as `%d`, doubles with six decimals.
 *
 * Prometheus text format 0.0.4 by default; OpenMetrics 1.0.0 when asked for. OpenMetrics requires counter
 * samples to end in `_total`, which would rename DCGM's counters, so there counters whose name lacks the
 * suffix are typed `unknown` and keep their names.
 *
 * @module
 */
import { xidMessage } from "../core/gpu_faults.ts";
import type { NodeGpuDevice, NodeGpuState } from "../core/node_state.ts";
import type { GpuReadings } from "../core/telemetry.ts";
import type { Counter } from "./counters.ts";
import { XID_FIELD } from "./fields.ts";

/** Exposition formats. */
export type ExpositionFormat = "text" | "openmetrics";

/** Content types of the formats. */
export const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  text: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/** The format a scraper's `Accept` header asks for. */
export function negotiateFormat(accept: string | null): ExpositionFormat {
  return accept?.includes("application/openmetrics-text") ? "openmetrics" : "text";
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** Escapes a HELP text: backslash and newline. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

/** One GPU's series identity, computed once per node state and reused by every scrape. */
export interface GpuSeries {
  /** The device as the node state holds it. */
  device: NodeGpuDevice;
  /** Label text without braces: the fixed labels and the label-type fields. */
  labels: string;
  /** Attribute pairs (pod attribution), sorted by name. */
  attributes: [string, string][];
  /** `labels` followed by the attributes, ready to print. */
  labelText: string;
}

function pairs(list: [string, string][]): string {
  return list.map(([k, v]) => `,${k}="${escapeLabelValue(v)}"`).join("");
}

/** The series identity of one GPU of a node, with the label-type fields among `counters`. */
export function gpuSeries(
  state: NodeGpuState,
  device: NodeGpuDevice,
  modelName: string,
  counters: Counter[],
): GpuSeries {
  const fixed: [string, string][] = [
    ["gpu", String(device.index)],
    ["UUID", device.uuid],
    ["pci_bus_id", device.pciBusId],
    ["device", `nvidia${device.index}`],
    ["modelName", modelName],
    ["Hostname", state.node],
  ];
  const labelFields = counters.filter((c) => c.field.kind === "label")
    .map((c): [string, string] => [c.name, c.field.kind === "label" ? c.field.read(state, device) : ""])
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const labels = pairs([...fixed, ...labelFields]).slice(1);
  const holder = device.holder;
  const attributes: [string, string][] = holder
    ? [["container", holder.container], ["namespace", holder.namespace], ["pod", holder.pod]]
    : [];
  return { device, labels, attributes, labelText: labels + pairs(attributes) };
}

/** A GPU's series identity with its readings for this scrape. */
export interface GpuSample {
  /** Series identity. */
  series: GpuSeries;
  /** The readings. */
  readings: GpuReadings;
}

function formatValue(value: number, kind: "int" | "double"): string {
  return kind === "int" ? String(Math.trunc(value)) : value.toFixed(6);
}

function xidLabelText(series: GpuSeries, code: number): string {
  const attributes: [string, string][] = [
    ...series.attributes,
    ["err_code", String(code)],
    ["err_msg", xidMessage(code)],
  ];
  attributes.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return series.labels + pairs(attributes);
}

/** The text of one metric family, or "" when no GPU has a value for it. */
export function renderFamily(counter: Counter, samples: GpuSample[], format: ExpositionFormat): string {
  const field = counter.field;
  if (field.kind === "label") return "";
  const lines: string[] = [];
  for (const { series, readings } of samples) {
    const value = field.read(readings);
    if (value === undefined || !Number.isFinite(value)) continue;
    const labels = counter.name === XID_FIELD ? xidLabelText(series, value) : series.labelText;
    lines.push(`${counter.name}{${labels}} ${formatValue(value, field.kind)}\n`);
  }
  if (lines.length === 0) return "";
  const help = `# HELP ${counter.name} ${escapeHelp(counter.help)}\n`;
  if (format === "text") return `${help}# TYPE ${counter.name} ${counter.type}\n${lines.join("")}`;
  const type = counter.type === "counter" && !counter.name.endsWith("_total") ? "unknown" : counter.type;
  return `# TYPE ${counter.name} ${type}\n${help}${lines.join("")}`;
}

/** The closing line of an exposition in the format ("" for text 0.0.4, `# EOF` for OpenMetrics). */
export function expositionEnd(format: ExpositionFormat): string {
  return format === "openmetrics" ? "# EOF\n" : "";
}
