/**
 * A fast writer of plain block YAML for JSON-like values, giving exactly what `js-yaml`'s `dump` gives with
 * `{ noRefs: true, lineWidth: -1, skipInvalid: true }`: status-updater encodes every node's state on every
 * reconcile, and `js-yaml` spends most of that time deciding how to write each string. Strings that are
 * plainly safe (a letter, then letters, digits, `.`, `_`, `/`, `-`) and integers are written here; any other
 * scalar is written by `js-yaml` itself, so quoting never differs.
 *
 * @module
 */
import { dump as dumpYaml } from "js-yaml";

const DUMP_OPTIONS = { noRefs: true, lineWidth: -1, skipInvalid: true } as const;

/** Plain scalars `js-yaml` writes unquoted: none reads as a boolean or null (YAML 1.2, or 1.1 for old readers). */
const PLAIN = /^[A-Za-z][A-Za-z0-9._/-]*$/;
const READS_AS_OTHER_TYPE = /^(?:true|false|null|y|yes|n|no|on|off)$/i;
/** Digits only: an integer to YAML, so `js-yaml` single-quotes it (GPU serial numbers). */
const DIGITS = /^[0-9]+$/;

/** The block YAML of `value` (an object, array or scalar), as `js-yaml`'s `dump` writes it, ending in a newline. */
export function toBlockYaml(value: unknown): string {
  try {
    return isBlock(value) ? writeBlock(value, "") : scalar(value) + "\n";
  } catch (err) {
    if (!(err instanceof NeedsWholeDump)) throw err;
    return dumpYaml(value, DUMP_OPTIONS);
  }
}

/** A scalar whose form depends on where it stands (a multi-line string): the whole value goes to `js-yaml`. */
class NeedsWholeDump extends Error {}

type Block = Record<string, unknown> | unknown[];

function isBlock(value: unknown): value is Block {
  return typeof value === "object" && value !== null &&
    (Array.isArray(value) ? value.length > 0 : Object.values(value).some(written));
}

/** Whether `js-yaml` writes this map value at all (`skipInvalid` drops undefined and functions). */
function written(value: unknown): boolean {
  return value !== undefined && typeof value !== "function" && typeof value !== "symbol";
}

function writeBlock(value: Block, indent: string): string {
  let out = "";
  if (Array.isArray(value)) {
    for (const item of value) {
      if (!written(item)) throw new NeedsWholeDump();
      out += `${indent}- ${
        isBlock(item) ? writeBlock(item, indent + "  ").slice(indent.length + 2) : scalar(item) + "\n"
      }`;
    }
    return out;
  }
  for (const [key, item] of Object.entries(value)) {
    if (!written(item)) continue;
    if (!isBlock(item)) out += `${indent}${scalar(key)}: ${scalar(item)}\n`;
    else out += `${indent}${scalar(key)}:\n${writeBlock(item, indent + "  ")}`;
  }
  return out;
}

/** How `js-yaml` wrote strings it was asked for (PCI bus ids, versions, times repeat across a fleet's states). */
const writtenByJsYaml = new Map<string, string>();
const REMEMBERED_MAX = 10_000;

function scalar(value: unknown): string {
  if (typeof value === "string") {
    if (PLAIN.test(value) && !READS_AS_OTHER_TYPE.test(value)) return value;
    if (DIGITS.test(value)) return `'${value}'`;
    let text = writtenByJsYaml.get(value);
    if (text === undefined) {
      text = dumpScalar(value);
      if (writtenByJsYaml.size >= REMEMBERED_MAX) writtenByJsYaml.clear();
      writtenByJsYaml.set(value, text);
    }
    return text;
  }
  if (typeof value === "number" && Number.isSafeInteger(value) && !Object.is(value, -0)) return String(value);
  if (typeof value === "boolean" || value === null) return String(value);
  if (typeof value === "object") return Array.isArray(value) ? "[]" : "{}";
  return dumpScalar(value);
}

function dumpScalar(value: unknown): string {
  const text = dumpYaml(value, DUMP_OPTIONS).slice(0, -1);
  if (text.includes("\n")) throw new NeedsWholeDump();
  return text;
}
