/**
 * Command-line flags for roles: `--name value`, `--name=value` and bare `--flag` booleans, each with an
 * environment fallback `FAKEGPU_<NAME>`, validated with a zod schema so an error names the flag.
 *
 * @module
 */
import type { z } from "zod";

/** Thrown for a bad command line; `main.ts` prints it with the usage and exits with code 2. */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One flag of a role. */
export interface FlagSpec {
  /** Flag name without dashes, kebab-case, e.g. `node-scope`. */
  name: string;
  /** One-line description for `--help`. */
  description: string;
  /** A boolean flag takes no value (`--leader-elect`, `--leader-elect=false`). */
  boolean?: boolean;
  /** Default shown in `--help` (the schema applies the real default). */
  defaultText?: string;
  /** One-letter short form, e.g. `a` for `-a` (as the NVIDIA tool the role imitates spells it). */
  short?: string;
  /** Further environment variables read after `FAKEGPU_<NAME>`, e.g. `DCGM_EXPORTER_LISTEN`. */
  envAliases?: string[];
}

/** Options of {@link parseFlags}. */
export interface ParseFlagsOptions {
  /** Environment to read fallbacks from. @default Deno.env.toObject() */
  env?: Record<string, string>;
}

/** Converts `node-scope` to `nodeScope`. */
function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Environment variable that backs a flag: `node-scope` → `FAKEGPU_NODE_SCOPE`. */
export function flagEnvName(name: string): string {
  return `FAKEGPU_${name.toUpperCase().replaceAll("-", "_")}`;
}

function readEnv(): Record<string, string> {
  try {
    return Deno.env.toObject();
  } catch {
    return {};
  }
}

/**
 * Parses `args` against the flag specs, fills unset flags from `FAKEGPU_<NAME>` environment variables
 * and validates the result with `schema` (whose keys are the camelCase flag names).
 */
export function parseFlags<S extends z.ZodType>(
  args: string[],
  specs: FlagSpec[],
  schema: S,
  options: ParseFlagsOptions = {},
): z.infer<S> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const raw: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const shortSpec = /^-[a-zA-Z]$/.test(arg) ? specs.find((s) => s.short === arg[1]) : undefined;
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!match && !shortSpec) throw new UsageError(`Unexpected argument "${arg}"`);
    const name: string = shortSpec?.name ?? match![1];
    const inline: string | undefined = shortSpec ? undefined : match![2];
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`Unknown flag "--${name}"`);
    if (spec.boolean) {
      if (inline !== undefined && inline !== "true" && inline !== "false") {
        throw new UsageError(`--${name}: expected true or false, got "${inline}"`);
      }
      raw[camel(name)] = inline !== "false";
    } else if (inline !== undefined) {
      raw[camel(name)] = inline;
    } else {
      const value = args[i + 1];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`--${name}: expected a value`);
      raw[camel(name)] = value;
      i++;
    }
  }
  const env = options.env ?? readEnv();
  for (const spec of specs) {
    const key = camel(spec.name);
    const fromEnv = [flagEnvName(spec.name), ...spec.envAliases ?? []].map((n) => env[n]).find((v) => v);
    if (raw[key] === undefined && fromEnv !== undefined && fromEnv !== "") {
      raw[key] = spec.boolean ? fromEnv !== "false" : fromEnv;
    }
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue.path[0] ?? "");
    const flag = specs.find((s) => camel(s.name) === key)?.name ?? key;
    throw new UsageError(`--${flag}: ${issue.message}`);
  }
  return result.data;
}

/** Renders flag specs as `--help` lines. */
export function flagHelp(specs: FlagSpec[]): string {
  const rows = specs.map((s) => {
    const left = `  ${s.short ? `-${s.short}, ` : ""}--${s.name}${s.boolean ? "" : " <value>"}`;
    const def = s.defaultText ? ` (default ${s.defaultText})` : "";
    const envs = [flagEnvName(s.name), ...s.envAliases ?? []].join(", ");
    return `${left.padEnd(34)} ${s.description}${def} [env ${envs}]`;
  });
  return rows.join("\n");
}

/** Prints a role's flag help when `args` ask for it (`--help` or `-h`); returns whether it did. */
export function printHelpIfAsked(role: string, args: string[], specs: FlagSpec[]): boolean {
  if (!args.includes("--help") && !args.includes("-h")) return false;
  console.log(`Usage: fakegpu ${role} [flags]\n\nFlags:\n${flagHelp(specs)}`);
  return true;
}

/**
 * Splits one command line among roles run in one process (`fakegpu status-updater+device-plugin …`): each
 * flag, with its value, goes to every role that takes it, spelt `--name`; `--help` goes to all. A flag no
 * role takes is a {@link UsageError}.
 *
 * @param args The shared command line (after the role names).
 * @param specsByRole Each role's flags, in the order the roles were named.
 * @returns Each role's own arguments, in the same order.
 */
export function splitArgsAmongRoles(args: string[], specsByRole: FlagSpec[][]): string[][] {
  const split = specsByRole.map((): string[] => []);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      for (const own of split) own.push(arg);
      continue;
    }
    const short = /^-([a-zA-Z])$/.exec(arg)?.[1];
    const long = /^--([a-z0-9-]+)(=.*)?$/.exec(arg);
    const spec = specsByRole.flat().find((s) => short ? s.short === short : s.name === long?.[1]);
    if (!spec) {
      throw new UsageError(
        short || long ? `Unknown flag "${arg.split("=")[0]}"` : `Unexpected argument "${arg}"`,
      );
    }
    const tokens = [`--${spec.name}${long?.[2] ?? ""}`];
    if (!spec.boolean && long?.[2] === undefined && i + 1 < args.length && !args[i + 1].startsWith("--")) {
      tokens.push(args[++i]);
    }
    specsByRole.forEach((specs, role) => {
      if (specs.some((s) => s.name === spec.name)) split[role].push(...tokens);
    });
  }
  return split;
}

/** A `[host]:port` listen address, as the roles' address flags take it (e.g. `:9400`, `127.0.0.1:0`). */
export const LISTEN_ADDRESS_PATTERN = /^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/;

/**
 * Splits `[host]:port` into what `Deno.serve` takes; an empty host listens on every address. `flag` names the
 * flag in the error for a port above 65535.
 */
export function parseListenAddress(address: string, flag = "--address"): { hostname: string; port: number } {
  const at = address.lastIndexOf(":");
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, "$1");
  const port = Number(address.slice(at + 1));
  if (port > 65535) throw new UsageError(`${flag}: port ${port} is above 65535`);
  return { hostname: host || "0.0.0.0", port };
}
