/**
 * nvidia-smi's command line, parsed as the real tool parses it (`-i 0`, `--id=0`, `-L`, `-q -d MEMORY`,
 * `--query-gpu=…`, `--format=…`), with the real tool's messages and exit codes for what it rejects, plus
 * fakegpu's own `--kubeconfig`, `--namespace`, `--node` (where the simulated GPUs come from).
 *
 * @module
 */
import { z } from "zod";
import { DISPLAY_SECTIONS, type DisplaySection } from "./report.ts";

/** What the command line asks for. */
export type SmiRequest =
  | { kind: "help" }
  | { kind: "table"; ids?: string }
  | { kind: "list" }
  | { kind: "report"; ids?: string; display?: DisplaySection[] }
  | { kind: "query-gpu" | "query-apps"; ids?: string; fields: string; format: string };

/** Where the node state comes from. */
export interface SmiSource {
  /** Kubeconfig path (else `$KUBECONFIG`, in-cluster, `~/.kube/config`). */
  kubeconfig?: string;
  /** fakegpu's namespace, holding `fakegpu-node-<node>`. */
  namespace: string;
  /** The node whose GPUs to show. */
  node?: string;
}

/** A parsed command line. */
export interface SmiCommand {
  /** The request. */
  request: SmiRequest;
  /** The state source. */
  source: SmiSource;
}

/** The real tool's refusal: its message (printed on stdout) and exit code. */
export class SmiExit extends Error {
  /** Creates the refusal. */
  constructor(message: string, readonly code: number) {
    super(message);
    this.name = "SmiExit";
  }
}

const HELP = "Please run 'nvidia-smi -h' for help.";

/** Options taking a value, by every spelling. */
const VALUE_OPTIONS: Record<string, string> = {
  "-i": "id",
  "--id": "id",
  "-d": "display",
  "--display": "display",
  "--query-gpu": "query-gpu",
  "--query-compute-apps": "query-apps",
  "--format": "format",
  "--kubeconfig": "kubeconfig",
  "--namespace": "namespace",
  "--node": "node",
};

/** Options without a value. */
const SWITCHES: Record<string, string> = {
  "-h": "help",
  "--help": "help",
  "-L": "list",
  "--list-gpus": "list",
  "-q": "query",
  "--query": "query",
};

const sourceSchema = z.object({
  kubeconfig: z.string().min(1).optional(),
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a namespace name"),
  node: z.string().min(1).optional(),
});

/** Reads `--kubeconfig`, `--namespace`, `--node` with their environment fallbacks. */
function parseSource(values: Map<string, string>, env: Record<string, string | undefined>): SmiSource {
  const result = sourceSchema.safeParse({
    kubeconfig: values.get("kubeconfig") ?? (env.FAKEGPU_KUBECONFIG || undefined),
    namespace: values.get("namespace") ?? (env.FAKEGPU_NAMESPACE || "gpu-operator"),
    node: values.get("node") ?? (env.FAKEGPU_NODE || env.NODE_NAME || undefined),
  });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new SmiExit(`fakegpu nvidia-smi: --${String(issue.path[0])}: ${issue.message}`, 2);
  }
  return result.data;
}

/** Parses `-d` section names (comma-separated, case-insensitive). */
function parseDisplay(text: string): DisplaySection[] {
  const names = text.split(",").map((s) => s.trim().toUpperCase());
  const known = new Set<string>(DISPLAY_SECTIONS);
  if (names.some((n) => !known.has(n))) throw new SmiExit("Failed to parse --display/-d flags", 2);
  return names as DisplaySection[];
}

/** Parses nvidia-smi's arguments; throws {@link SmiExit} where the real tool refuses them. */
export function parseSmiArgs(args: string[], env: Record<string, string | undefined>): SmiCommand {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const valueName = VALUE_OPTIONS[flag];
    if (valueName) {
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) {
        throw new SmiExit(`ERROR: Option ${flag} is missing its value. ${HELP}\n`, 255);
      }
      values.set(valueName, value);
    } else if (SWITCHES[arg]) {
      switches.add(SWITCHES[arg]);
    } else {
      throw new SmiExit(`ERROR: Option ${arg} is not recognized. Please run 'nvidia-smi -h'.\n`, 255);
    }
  }
  const source = parseSource(values, env);
  const ids = values.get("id");
  if (switches.has("help")) return { request: { kind: "help" }, source };
  if (switches.has("list")) {
    if (ids !== undefined) throw new SmiExit(`ERROR: Option -i is not valid for this command. ${HELP}\n`, 2);
    return { request: { kind: "list" }, source };
  }
  const query = values.has("query-gpu") ? "query-gpu" : values.has("query-apps") ? "query-apps" : undefined;
  if (query) {
    const format = values.get("format");
    if (format === undefined) throw new SmiExit(`"--format=" switch is missing. ${HELP}\n`, 2);
    return { request: { kind: query, ids, fields: values.get(query)!, format }, source };
  }
  if (switches.has("query")) {
    const display = values.get("display");
    return { request: { kind: "report", ids, display: display ? parseDisplay(display) : undefined }, source };
  }
  return { request: { kind: "table", ids }, source };
}
