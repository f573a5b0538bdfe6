/**
 * Test helpers around a real local control plane:
 *
 * ```ts
 * Deno.test("something against Kubernetes", async () => {
 *   await using cluster = await startTestCluster();
 *   await cluster.kubectlApply(manifest);
 *   await waitFor("pod bound", async () => JSON.parse(await cluster.kubectl("get", "pod", "p", "-o", "json")).spec.nodeName);
 * });
 * ```
 *
 * Binaries come from `FAKEGPU_CLUSTER_BIN` when set, otherwise from `tests/cluster/build.sh` (a no-op
 * when its cache is warm, a long Go build when cold).
 *
 * @module
 */

import {
  type ControlPlane,
  type ControlPlaneOptions,
  runCommand,
  runKubectl,
  startControlPlane,
} from "../../components/local_fleet/control_plane.ts";

/** Options of {@link startTestCluster}: those of `startControlPlane`, with `binDir` found when absent. */
export type TestClusterOptions = Omit<ControlPlaneOptions, "binDir"> & { binDir?: string };

/** A running control plane plus kubectl shortcuts; dispose it with `await using`. */
export interface TestCluster extends ControlPlane {
  /** Runs kubectl against the cluster and returns stdout; throws with stderr when kubectl fails. */
  kubectl(...args: string[]): Promise<string>;
  /** `kubectl apply -f -` of a YAML or JSON manifest. */
  kubectlApply(manifest: string): Promise<void>;
}

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long; default 60000 ms. */
  timeoutMs?: number;
  /** Pause between attempts; default 250 ms. */
  intervalMs?: number;
}

const REPO_ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);

let binDirLookup: Promise<string> | undefined;

/**
 * The control plane bin directory: `$FAKEGPU_CLUSTER_BIN`, else the last stdout line of
 * `bash tests/cluster/build.sh` (its progress goes to stderr). Looked up once per process.
 */
export function findControlPlaneBinDir(): Promise<string> {
  binDirLookup ??= lookUpBinDir();
  return binDirLookup;
}

async function lookUpBinDir(): Promise<string> {
  const fromEnv = Deno.env.get("FAKEGPU_CLUSTER_BIN");
  if (fromEnv) return fromEnv;
  const script = `${REPO_ROOT}tests/cluster/build.sh`;
  const result = await runCommand("bash", [script], {
    onStderrLine: (line) => console.error(line),
  });
  const binDir = result.stdout.trim().split("\n").at(-1)?.trim();
  if (result.code !== 0 || !binDir) {
    throw new Error(
      `${script} failed (exit ${result.code}); set FAKEGPU_CLUSTER_BIN or fix the build:\n` +
        result.stderr.trimEnd().split("\n").slice(-20).join("\n"),
    );
  }
  return binDir;
}

/** The KWOK_WORKDIR `deno task cluster:up` and `cluster:down` share: `<cache>/kwok-workdir`. */
export function devClusterWorkdir(): string {
  const cache = Deno.env.get("FAKEGPU_CACHE") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/fakegpu`;
  return `${cache}/kwok-workdir`;
}

/** Starts a real control plane for a test; see the module example. */
export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const binDir = options.binDir ?? await findControlPlaneBinDir();
  const plane = await startControlPlane({ ...options, binDir });
  return {
    ...plane,
    kubectl: (...args: string[]) => runKubectl(plane, args),
    kubectlApply: async (manifest: string) => {
      await runKubectl(plane, ["apply", "-f", "-"], manifest);
    },
  };
}

/**
 * Calls `fn` every `intervalMs` until it returns something other than `undefined`/`false` and returns
 * that; throws `timed out after <timeoutMs>ms waiting for <what>` (with the last error, if any).
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 250 }: WaitForOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError === undefined
        ? ""
        : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
