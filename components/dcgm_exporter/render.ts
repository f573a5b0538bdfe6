/**
 * The exposition dcgm-exporter writes: per family `# HELP` and `# TYPE`, then one sample per GPU with the
 * real label set and order — `gpu`, `UUID`, `pci_bus_id`, `device`, `modelName` (a MIG device adds
 * `GPU_I_PROFILE`, `GPU_I_ID`), `Hostname`, then the
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
import { migInstanceDevice } from "../core/mig_readings.ts";
import type { GpuModel } from "../core/model.ts";
import type { NodeGpuDevice, NodeGpuState, NodeMigDevice } from "../core/node_state.ts";
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
  /**
   * The device as the node state holds it; for a MIG device, its parent with the MIG device's UUID and holder
   * (its readings and counters are the instance's own).
   */
  device: NodeGpuDevice;
  /** For a MIG device: the parent's model with the instance's memory, to read its values from. */
  model?: GpuModel;
  /** Label text without braces: the fixed labels and the label-type fields. */
  labels: string;
  /** Attribute pairs (pod attribution), sorted by name. */
  attributes: [string, string][];
  /** `labels` followed by the attributes, UTF-8 encoded, ready to print. */
  labelBytes: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * Writes an exposition into one growing byte buffer: a scrape of 1000 nodes × 8 GPUs is ~45 MiB, which as
 * JavaScript strings would cost several times that in memory.
 */
class ByteWriter {
  #buffer: Uint8Array;
  #length = 0;

  constructor(capacity: number) {
    this.#buffer = new Uint8Array(Math.max(capacity, 256));
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    const grown = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + extra));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  /** Appends bytes. */
  bytes(data: Uint8Array): void {
    this.#reserve(data.length);
    this.#buffer.set(data, this.#length);
    this.#length += data.length;
  }

  /** Appends one ASCII character code. */
  char(code: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = code;
  }

  /** Appends the decimal digits of a non-negative integer below 2^53, padded with zeros to `width`. */
  digits(value: number, width = 1): void {
    let n = 1;
    for (let rest = Math.floor(value / 10); rest > 0; rest = Math.floor(rest / 10)) n++;
    n = Math.max(n, width);
    this.#reserve(n);
    for (let i = this.#length + n - 1; i >= this.#length; i--) {
      this.#buffer[i] = 48 + (value % 10);
      value = Math.floor(value / 10);
    }
    this.#length += n;
  }

  /** Appends a value as dcgm-exporter prints it: `%d` for integers, `%f` (six decimals) for doubles. */
  number(value: number, kind: "int" | "double"): void {
    if (value < 0) this.char(45);
    const abs = Math.abs(value);
    if (kind === "int") return this.digits(Math.trunc(abs));
    const micros = Math.round(abs * 1e6);
    const whole = Math.floor(micros / 1e6);
    this.digits(whole);
    this.char(46);
    this.digits(micros - whole * 1e6, 6);
  }

  /** Forgets what was written, keeping the buffer. */
  clear(): void {
    this.#length = 0;
  }

  /** A copy of the bytes written. */
  result(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

function pairs(list: [string, string][]): string {
  return list.map(([k, v]) => `,${k}="${escapeLabelValue(v)}"`).join("");
}

/**
 * The series identity of one GPU of a node, with the label-type fields among `counters`; with `mig`, of one
 * of its MIG devices (§1.4): the parent's `gpu` and `UUID`, plus `GPU_I_PROFILE` and `GPU_I_ID`.
 */
export function gpuSeries(
  state: NodeGpuState,
  parent: NodeGpuDevice,
  modelName: string,
  counters: Counter[],
  mig?: { instance: NodeMigDevice; model: GpuModel },
): GpuSeries {
  const device = mig ? migInstanceDevice(parent, mig.instance) : parent;
  const fixed: [string, string][] = [
    ["gpu", String(parent.index)],
    ["UUID", parent.uuid],
    ["pci_bus_id", parent.pciBusId],
    ["device", `nvidia${parent.index}`],
    ["modelName", modelName],
    ...(mig
      ? [["GPU_I_PROFILE", mig.instance.profile], ["GPU_I_ID", String(mig.instance.giId)]] as [
        string,
        string,
      ][]
      : []),
    ["Hostname", state.node],
  ];
  const labelFields = counters.filter((c) => c.field.kind === "label")
    .map((c): [string, string] => [c.name, c.field.kind === "label" ? c.field.read(state, device) : ""])
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  const labels = pairs([...fixed, ...labelFields]).slice(1);
  // One pod's labels per GPU, as dcgm-exporter's pod mapper gives a shared GPU: the first holder's.
  const holder = device.holders?.[0];
  const attributes: [string, string][] = holder
    ? [["container", holder.container], ["namespace", holder.namespace], ["pod", holder.pod]]
    : [];
  return {
    device,
    ...(mig ? { model: mig.model } : {}),
    labels,
    attributes,
    labelBytes: encoder.encode(labels + pairs(attributes)),
  };
}

/**
 * One scrape's values, column by column: `columns[i][g]` is the value of `counters[i]` for `series[g]`
 * (NaN where DCGM would report blank). Typed arrays keep a 8000-GPU scrape to a few MiB.
 */
export interface ScrapeValues {
  /** The GPUs that report (lost GPUs are left out). */
  series: GpuSeries[];
  /** One column per counter, in counter order (label counters get an empty column). */
  columns: Float64Array[];
}

/** Collects the columns of `counters` from the readings of at most `capacity` GPUs. */
export function scrapeValues(
  counters: Counter[],
  capacity: number,
  gpus: Iterable<[GpuSeries, GpuReadings]>,
): ScrapeValues {
  const series: GpuSeries[] = [];
  const columns = counters.map((c) => new Float64Array(c.field.kind === "label" ? 0 : capacity));
  for (const [s, readings] of gpus) {
    const g = series.length;
    series.push(s);
    for (let i = 0; i < counters.length; i++) {
      const field = counters[i].field;
      if (field.kind !== "label") columns[i][g] = field.read(readings) ?? NaN;
    }
  }
  return { series, columns: columns.map((column) => column.subarray(0, series.length)) };
}

function xidLabelBytes(series: GpuSeries, code: number): Uint8Array {
  const attributes: [string, string][] = [
    ...series.attributes,
    ["err_code", String(code)],
    ["err_msg", xidMessage(code)],
  ];
  attributes.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return encoder.encode(series.labels + pairs(attributes));
}

/** Writes metric families; one writer's buffer serves every family of every scrape. */
export class FamilyRenderer {
  readonly #out = new ByteWriter(1 << 20);

  /**
   * One metric family as UTF-8 bytes, or undefined when no GPU has a value for it. Numbers are written
   * digit by digit into a reused buffer, so a scrape allocates almost nothing per sample.
   */
  render(
    counter: Counter,
    series: GpuSeries[],
    values: Float64Array,
    format: ExpositionFormat,
  ): Uint8Array | undefined {
    const field = counter.field;
    if (field.kind === "label") return undefined;
    const help = `# HELP ${counter.name} ${escapeHelp(counter.help)}\n`;
    const type = format === "openmetrics" && counter.type === "counter" && !counter.name.endsWith("_total")
      ? "unknown"
      : counter.type;
    const typeLine = `# TYPE ${counter.name} ${type}\n`;
    const out = this.#out;
    out.clear();
    // OpenMetrics wants TYPE before HELP; text 0.0.4 (and dcgm-exporter) writes HELP first.
    out.bytes(encoder.encode(format === "text" ? help + typeLine : typeLine + help));
    const prefix = encoder.encode(`${counter.name}{`);
    let written = 0;
    for (let g = 0; g < series.length; g++) {
      const value = values[g];
      if (!Number.isFinite(value)) continue;
      out.bytes(prefix);
      out.bytes(counter.name === XID_FIELD ? xidLabelBytes(series[g], value) : series[g].labelBytes);
      out.char(125); // }
      out.char(32);
      out.number(value, field.kind);
      out.char(10);
      written++;
    }
    return written ? out.result() : undefined;
  }
}

/** The closing bytes of an exposition in the format (none for text 0.0.4, `# EOF` for OpenMetrics). */
export function expositionEnd(format: ExpositionFormat): Uint8Array | undefined {
  return format === "openmetrics" ? encoder.encode("# EOF\n") : undefined;
}
