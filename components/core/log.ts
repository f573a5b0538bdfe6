/**
 * Structured logging: one JSON line per event with `time`, `level`, `role`, `msg` and any fields
 * (for example `node`). Quiet by default: only `warn` and `error` print unless `FAKEGPU_LOG_LEVEL`
 * (or {@link setLogLevel}) asks for `info` or `debug`.
 *
 * @module
 */
import { writeOutput } from "./output.ts";

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold: LogLevel = readLevelFromEnv();
let currentRole = "fakegpu";
let roleFixed = false;

function readLevelFromEnv(): LogLevel {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("FAKEGPU_LOG_LEVEL");
  } catch {
    raw = undefined;
  }
  return raw && raw in LEVEL_RANK ? raw as LogLevel : "warn";
}

/** Sets the lowest level that is printed. */
export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/**
 * Sets the `role` field stamped on every line. `fixed` keeps it from then on: roles run together in one
 * process (`status-updater+device-plugin`) log under their joint name.
 */
export function setLogRole(role: string, fixed = false): void {
  if (roleFixed) return;
  currentRole = role;
  roleFixed = fixed;
}

/** Extra structured fields of a log line, e.g. `{ node: "kwok-a100-0" }`. */
export type LogFields = Record<string, unknown>;

function emit(level: LogLevel, msg: string, fields: LogFields = {}): void {
  if (LEVEL_RANK[level] < LEVEL_RANK[threshold]) return;
  const line: Record<string, unknown> = { time: new Date().toISOString(), level, role: currentRole, msg };
  for (const [key, value] of Object.entries(fields)) {
    line[key] = value instanceof Error ? value.message : value;
  }
  writeOutput(level === "error" || level === "warn" ? "stderr" : "stdout", JSON.stringify(line) + "\n");
}

/** The logger: `log.info("node advertised", { node })`. */
export const log = {
  /** Detail useful when debugging a single role. */
  debug: (msg: string, fields?: LogFields): void => emit("debug", msg, fields),
  /** A normal event worth a line when asked for. */
  info: (msg: string, fields?: LogFields): void => emit("info", msg, fields),
  /** Something went wrong and was handled. */
  warn: (msg: string, fields?: LogFields): void => emit("warn", msg, fields),
  /** Something went wrong and was not handled. */
  error: (msg: string, fields?: LogFields): void => emit("error", msg, fields),
};
