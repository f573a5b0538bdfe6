/**
 * dcgm-exporter's counters file: one `DCGM FIELD, Prometheus metric type, help message` per line, `#` starts a
 * comment. Parsed strictly: an unknown field, a bad type or a malformed line is a start-up error naming the
 * file and line.
 *
 * @module
 */
import { DCGM_FIELDS, type DcgmField } from "./fields.ts";

/** One exported field. */
export interface Counter {
  /** Metric name, equal to the DCGM field name. */
  name: string;
  /** Prometheus type from the file; `label` fields become labels. */
  type: "gauge" | "counter" | "label";
  /** HELP text from the file. */
  help: string;
  /** How the value is simulated. */
  field: DcgmField;
}

/** Thrown for a counters file the exporter cannot serve. */
export class CountersFileError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CountersFileError";
  }
}

const TYPES = new Set(["gauge", "counter", "label"]);

/** Parses a counters file; `source` names it in errors. */
export function parseCounters(text: string, source: string): Counter[] {
  const counters: Counter[] = [];
  const seen = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${source}:${i + 1}`;
    const [name, type, ...helpParts] = line.split(",").map((part) => part.trim());
    if (!type || helpParts.length === 0) {
      throw new CountersFileError(`${where}: expected "DCGM field, type, help", got "${line}"`);
    }
    const field = DCGM_FIELDS[name];
    if (!field) {
      throw new CountersFileError(
        `${where}: unknown DCGM field "${name}" (fakegpu simulates: ${Object.keys(DCGM_FIELDS).join(", ")})`,
      );
    }
    if (!TYPES.has(type)) {
      throw new CountersFileError(`${where}: type of ${name} must be gauge, counter or label, got "${type}"`);
    }
    if ((type === "label") !== (field.kind === "label")) {
      throw new CountersFileError(
        `${where}: ${name} is ${field.kind === "label" ? "a label field" : "a value field"}, not "${type}"`,
      );
    }
    if (seen.has(name)) throw new CountersFileError(`${where}: ${name} is listed twice`);
    seen.add(name);
    counters.push({ name, type: type as Counter["type"], help: helpParts.join(",").trim(), field });
  });
  if (!counters.some((c) => c.type !== "label")) {
    throw new CountersFileError(`${source}: no metric fields to export`);
  }
  return counters;
}
