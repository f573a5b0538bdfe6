/**
 * A real local Kubernetes control plane for fakegpu's demo and tests: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok-controller run as plain processes by
 * `kwokctl create cluster --runtime binary`, all bound to 127.0.0.1, with every binary taken from a
 * local bin directory (see tests/cluster/build.sh). Nothing is downloaded and `~/.kube/config` is
 * never touched.
 *
 * @module
 */

import { z } from "zod";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { log } from "../core/log.ts";

/** Binaries {@link startControlPlane} needs in `binDir`. */
export const CONTROL_PLANE_BINARIES = [
  "kwokctl",
  "kwok",
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubectl",
] as const;

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Directory holding the binaries in {@link CONTROL_PLANE_BINARIES} (the last line of build.sh). */
  binDir: string;
  /** Cluster name, a lowercase DNS label; default a unique `fakegpu-<random>`. */
  name?: string;
  /**
   * KWOK_WORKDIR of the cluster. Default: a fresh temporary directory, removed on stop. A given
   * directory is kept on stop; only this cluster's files in it are removed.
   */
  workdir?: string;
  /** Port for a per-cluster Prometheus scraping every component; 0 or absent: no Prometheus. */
  prometheusPort?: number;
  /** Prometheus binary used when `prometheusPort` is set; default Debian's `/usr/bin/prometheus`. */
  prometheusBinary?: string;
  /** How long creation plus readiness may take; default 120000 ms. */
  readyTimeoutMs?: number;
  /**
   * Duration of the node Leases kwok-controller holds for its nodes; default kwokctl's 200 s. A restarted
   * kwok-controller has a new identity and may leave pods on a node alone until the previous holder's
   * Lease expires, so clusters that {@link ControlPlane.restart} should set a few seconds.
   */
  nodeLeaseDurationSeconds?: number;
  /**
   * kwok-controller manages only nodes annotated `kwok.x-k8s.io/node: fake` (default: every node), so real
   * kubelets can join the cluster beside KWOK nodes.
   */
  kwokNodesOnly?: boolean;
  /** Receives human-readable progress lines (kwokctl's log and the harness's own steps). */
  onProgress?: (msg: string) => void;
  /** Aborting stops a start in progress and tears down what was started. */
  signal?: AbortSignal;
}

/** A running control plane; stop it with {@link ControlPlane.stop} or `await using`. */
export interface ControlPlane {
  /** kwokctl cluster name. */
  readonly name: string;
  /** KWOK_WORKDIR of the cluster. */
  readonly workdir: string;
  /** `<workdir>/clusters/<name>`: kwokctl's files, with `logs/` and `pids/`. */
  readonly clusterDir: string;
  /** Admin kubeconfig of the cluster (server on 127.0.0.1, certificates as file paths). */
  readonly kubeconfigPath: string;
  /** API server URL, `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** Directory the binaries came from; `kubectl` is in it. */
  readonly binDir: string;
  /** `http://127.0.0.1:<port>` of the cluster's Prometheus, when `prometheusPort` was set. */
  readonly prometheusUrl: string | undefined;
  /**
   * Restarts the whole control plane, as a crash or an upgrade of it would, while its clients keep running:
   * `kwokctl stop cluster` kills every component (etcd, kube-apiserver, kube-controller-manager,
   * kube-scheduler, kwok-controller, Prometheus), `kwokctl start cluster` starts them again from the
   * cluster's saved configuration, and this waits until `/readyz` is `ok` and the `default` ServiceAccount
   * exists, as {@link startControlPlane} does. etcd's data, the certificates and every port survive, so
   * {@link ControlPlane.kubeconfigPath} and {@link ControlPlane.server} stay valid. Throws if the cluster is
   * stopping, a kwokctl command fails, it comes back on another URL or is not ready in `readyTimeoutMs`.
   */
  restart(): Promise<void>;
  /** Deletes the cluster, kills leftover processes and removes its files; idempotent. */
  stop(): Promise<void>;
  /** Same as {@link ControlPlane.stop}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Where a kwokctl cluster lives, as needed by {@link deleteCluster}. */
export interface ClusterLocation {
  /** Directory holding `kwokctl`. */
  binDir: string;
  /** KWOK_WORKDIR of the cluster. */
  workdir: string;
  /** kwokctl cluster name. */
  name: string;
}

/** Options after validation and defaulting. */
export interface ResolvedControlPlaneOptions {
  binDir: string;
  name: string;
  workdir: string | undefined;
  prometheusPort: number;
  prometheusBinary: string;
  readyTimeoutMs: number;
  nodeLeaseDurationSeconds: number | undefined;
  kwokNodesOnly: boolean;
  onProgress: (msg: string) => void;
  signal: AbortSignal | undefined;
}

/** Result of one finished child process. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Captured standard output. */
  stdout: string;
  /** Captured standard error. */
  stderr: string;
}

const NAME_PATTERN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DEFAULT_READY_TIMEOUT_MS = 120_000;
const DEFAULT_PROMETHEUS_BINARY = "/usr/bin/prometheus";
const KILL_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 15;

const optionsSchema = z.strictObject({
  binDir: z.string({ error: "expected a directory path" }).min(1, { error: "expected a directory path" }),
  name: z.string({ error: "expected a lowercase DNS label" })
    .max(40, { error: "expected at most 40 characters" })
    .regex(NAME_PATTERN, { error: "expected a lowercase DNS label such as fakegpu-dev" })
    .optional(),
  workdir: z.string({ error: "expected a directory path" }).min(1, { error: "expected a directory path" })
    .optional(),
  prometheusPort: z.number({ error: "expected a port number" })
    .int({ error: "expected an integer port number" })
    .min(0, { error: "expected a port number from 0 to 65535" })
    .max(65535, { error: "expected a port number from 0 to 65535" })
    .optional(),
  prometheusBinary: z.string({ error: "expected a file path" }).min(1, { error: "expected a file path" })
    .optional(),
  readyTimeoutMs: z.number({ error: "expected a duration in milliseconds" })
    .int({ error: "expected a whole number of milliseconds" })
    .positive({ error: "expected a positive number of milliseconds" })
    .optional(),
  nodeLeaseDurationSeconds: z.number({ error: "expected a number of seconds" })
    .int({ error: "expected a whole number of seconds" })
    .positive({ error: "expected a positive number of seconds" })
    .optional(),
  kwokNodesOnly: z.boolean({ error: "expected true or false" }).optional(),
  onProgress: z.custom<(msg: string) => void>((v) => typeof v === "function", {
    error: "expected a function",
  })
    .optional(),
  signal: z.instanceof(AbortSignal, { error: "expected an AbortSignal" }).optional(),
});

function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return typeof value;
}

/** Validates and defaults {@link startControlPlane}'s options; throws naming the offending field. */
export function validateControlPlaneOptions(input: unknown): ResolvedControlPlaneOptions {
  const parsed = optionsSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      if (issue.code === "unrecognized_keys") return `unknown option(s) ${issue.keys.join(", ")}`;
      const field = issue.path.length > 0 ? issue.path.join(".") : "options";
      return `${field}: ${issue.message}, got ${describeValue(issue.input)}`;
    });
    throw new Error(`startControlPlane: ${problems.join("; ")}`);
  }
  const o = parsed.data;
  return {
    binDir: o.binDir,
    name: o.name ?? `fakegpu-${crypto.randomUUID().slice(0, 8)}`,
    workdir: o.workdir,
    prometheusPort: o.prometheusPort ?? 0,
    prometheusBinary: o.prometheusBinary ?? DEFAULT_PROMETHEUS_BINARY,
    readyTimeoutMs: o.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
    nodeLeaseDurationSeconds: o.nodeLeaseDurationSeconds,
    kwokNodesOnly: o.kwokNodesOnly ?? false,
    onProgress: o.onProgress ?? (() => {}),
    signal: o.signal,
  };
}

/** KWOK nodes carry this annotation; {@link kwokctlConfigYaml} can restrict kwok-controller to them. */
export const KWOK_NODE_SELECTOR = "kwok.x-k8s.io/node=fake";

/**
 * The kwokctl configuration file: every component listens on loopback only; kwok-controller's node Lease
 * duration is set exactly (not scaled by kwokctl's heartbeat factor) when given; with `kwokNodesOnly`,
 * kwok-controller manages only nodes annotated {@link KWOK_NODE_SELECTOR} instead of every node, so a real
 * kubelet's node can join the cluster.
 */
export function kwokctlConfigYaml(nodeLeaseDurationSeconds?: number, kwokNodesOnly = false): string {
  const config: Record<string, unknown> = {
    apiVersion: "config.kwok.x-k8s.io/v1alpha1",
    kind: "KwokctlConfiguration",
    options: { bindAddress: "127.0.0.1" },
  };
  const extraArgs = [];
  if (nodeLeaseDurationSeconds !== undefined) {
    extraArgs.push({
      key: "node-lease-duration-seconds",
      value: String(nodeLeaseDurationSeconds),
      override: true,
    });
  }
  if (kwokNodesOnly) {
    extraArgs.push(
      { key: "manage-all-nodes", value: "false", override: true },
      { key: "manage-nodes-with-annotation-selector", value: KWOK_NODE_SELECTOR },
    );
  }
  if (extraArgs.length > 0) config.componentsPatches = [{ name: "kwok-controller", extraArgs }];
  return stringifyYaml(config);
}

/** Arguments of `kwokctl create cluster`; every binary is a local path so nothing is downloaded. */
export function kwokctlCreateArgs(
  o: Pick<
    ResolvedControlPlaneOptions,
    "binDir" | "name" | "prometheusPort" | "prometheusBinary" | "readyTimeoutMs"
  >,
  files: { config: string; mergedKubeconfig: string },
): string[] {
  const bin = (name: string) => `${o.binDir}/${name}`;
  const args = [
    "create",
    "cluster",
    "--name",
    o.name,
    "--runtime",
    "binary",
    "--config",
    files.config,
    "--kubeconfig",
    files.mergedKubeconfig,
    "--timeout",
    `${o.readyTimeoutMs}ms`,
    "--kube-apiserver-binary",
    bin("kube-apiserver"),
    "--kube-controller-manager-binary",
    bin("kube-controller-manager"),
    "--kube-scheduler-binary",
    bin("kube-scheduler"),
    "--etcd-binary",
    bin("etcd"),
    "--kwok-controller-binary",
    bin("kwok"),
  ];
  if (o.prometheusPort > 0) {
    args.push("--prometheus-port", String(o.prometheusPort), "--prometheus-binary", o.prometheusBinary);
  }
  return args;
}

/** Environment for kwokctl: its workdir, a throwaway KUBECONFIG and `binDir` first on PATH (kubectl). */
export function kwokctlEnv(
  binDir: string,
  workdir: string,
  mergedKubeconfig: string,
  path: string | undefined,
): Record<string, string> {
  return {
    KWOK_WORKDIR: workdir,
    KUBECONFIG: mergedKubeconfig,
    PATH: path ? `${binDir}:${path}` : binDir,
  };
}

/** The API server URL of the first cluster in a kubeconfig. */
export function serverFromKubeconfig(text: string): string {
  const doc = parseYaml(text) as { clusters?: { cluster?: { server?: unknown } }[] } | null;
  const server = doc?.clusters?.[0]?.cluster?.server;
  if (typeof server !== "string" || !/^https?:\/\/[^/]+/.test(server)) {
    throw new Error(`kubeconfig: clusters[0].cluster.server: expected a URL, got ${describeValue(server)}`);
  }
  return server;
}

/**
 * kwokctl's kubeconfig rewritten to verify the API server against the cluster CA (`<clusterDir>/pki/ca.crt`)
 * instead of skipping verification, with certificate paths made absolute, so clients use plain verified TLS.
 */
export function verifiedKubeconfig(text: string, clusterDir: string): string {
  const doc = parseYaml(text) as {
    clusters?: { cluster?: Record<string, unknown> }[];
    users?: { user?: Record<string, unknown> }[];
  };
  const absolute = (value: unknown) =>
    typeof value === "string" && !value.startsWith("/") ? `${clusterDir}/${value}` : value;
  for (const { cluster } of doc.clusters ?? []) {
    if (!cluster) continue;
    delete cluster["insecure-skip-tls-verify"];
    delete cluster["certificate-authority-data"];
    cluster["certificate-authority"] = `${clusterDir}/pki/ca.crt`;
  }
  for (const { user } of doc.users ?? []) {
    if (!user) continue;
    for (const field of ["client-certificate", "client-key"]) {
      if (user[field] !== undefined) user[field] = absolute(user[field]);
    }
  }
  return stringifyYaml(doc);
}

/** Shortens one kwokctl JSON log line to `LEVEL msg (elapsed)`; other lines are returned as they are. */
export function formatKwokctlLine(line: string): string {
  try {
    const entry = JSON.parse(line) as {
      level?: unknown;
      msg?: unknown;
      elapsed?: { human?: unknown };
      err?: unknown;
    };
    if (typeof entry.msg !== "string") return line;
    const extras = [entry.elapsed?.human, entry.err].filter((v) => typeof v === "string" && v !== "");
    return `${entry.level ?? "INFO"} ${entry.msg}${extras.length > 0 ? ` (${extras.join("; ")})` : ""}`;
  } catch {
    return line;
  }
}

/** The failed checks of a verbose `/readyz` answer (`[-]name failed: ...`), else the answer itself, shortened. */
export function summarizeReadyz(text: string): string {
  const failed = [...text.matchAll(/\[-\]([^\s\\]+)/g)].map((m) => m[1]);
  if (failed.length > 0) return `failing checks ${failed.join(", ")}`;
  const flat = text.trim().replaceAll(/\s+/g, " ");
  return flat.length > 300 ? `${flat.slice(0, 300)}...` : flat;
}

/** The port of a URL such as `https://127.0.0.1:32766`. */
export function portOf(url: string): number {
  const u = new URL(url);
  return Number(u.port || (u.protocol === "https:" ? 443 : 80));
}

function clusterDirOf(workdir: string, name: string): string {
  return `${workdir}/clusters/${name}`;
}

function ownFiles(workdir: string, name: string): { config: string; mergedKubeconfig: string } {
  return {
    config: `${workdir}/${name}.kwokctl.yaml`,
    mergedKubeconfig: `${workdir}/${name}.kubeconfig-merged.yaml`,
  };
}

function tailLines(text: string, count: number): string {
  return text.trimEnd().split("\n").slice(-count).join("\n");
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine?: (line: string) => void,
): Promise<string> {
  let text = "";
  let partial = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    if (!onLine) continue;
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) onLine(line);
  }
  if (onLine && partial.trim()) onLine(partial);
  return text;
}

/** Runs a process to completion, capturing its output; `onStderrLine` sees stderr as it arrives. */
export async function runCommand(
  command: string,
  args: string[],
  options: {
    env?: Record<string, string>;
    stdin?: string;
    signal?: AbortSignal;
    onStderrLine?: (line: string) => void;
  } = {},
): Promise<CommandResult> {
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: options.signal,
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const [stdout, stderr, status] = await Promise.all([
    readLines(child.stdout),
    readLines(child.stderr, options.onStderrLine),
    child.status,
  ]);
  return { code: status.code, stdout, stderr };
}

/**
 * Runs `kubectl --kubeconfig <plane's kubeconfig> ...args` from the plane's bin dir and returns stdout;
 * throws with kubectl's stderr when it fails.
 */
export async function runKubectl(
  plane: Pick<ControlPlane, "binDir" | "kubeconfigPath">,
  args: string[],
  stdin?: string,
): Promise<string> {
  const result = await runCommand(
    `${plane.binDir}/kubectl`,
    ["--kubeconfig", plane.kubeconfigPath, ...args],
    {
      stdin,
    },
  );
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(" ")} failed (exit ${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** The pids kwokctl recorded in `<clusterDir>/pids/*.pid` (empty when the directory is gone). */
export async function readComponentPids(clusterDir: string): Promise<number[]> {
  const pids: number[] = [];
  try {
    for await (const entry of Deno.readDir(`${clusterDir}/pids`)) {
      if (!entry.isFile || !entry.name.endsWith(".pid")) continue;
      const pid = Number((await Deno.readTextFile(`${clusterDir}/pids/${entry.name}`)).trim());
      if (Number.isInteger(pid) && pid > 0) pids.push(pid);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return pids.sort((a, b) => a - b);
}

async function procText(pid: number, file: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(`/proc/${pid}/${file}`);
  } catch {
    return undefined;
  }
}

/** The fields of a `/proc/<pid>/stat` line after `(comm)`: state first, start time at index 19. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/**
 * Whether a `/proc/<pid>/stat` line describes a live process. A zombie leader whose other threads are
 * still exiting (`num_threads` > 1) counts as alive: those threads may still hold its sockets.
 */
export function statShowsAlive(stat: string): boolean {
  const fields = statFields(stat);
  return (fields[0] !== "Z" && fields[0] !== "X") || Number(fields[17]) > 1;
}

/** Whether a process still exists or holds resources (reads /proc, Linux only). */
export async function isProcessAlive(pid: number): Promise<boolean> {
  const stat = await procText(pid, "stat");
  return stat !== undefined && statShowsAlive(stat);
}

/** A process told apart from a later one reusing its pid by its start time. */
interface ProcessIdentity {
  pid: number;
  startTime: string;
}

/**
 * Whether a `/proc/<pid>/cmdline` (NUL-separated) is one of a cluster's components: kwokctl runs each from
 * `<clusterDir>/bin/`. Only the executable counts, so a process that merely names a file of the cluster
 * (a role given `--kubeconfig <clusterDir>/...`) is never taken for a component.
 */
export function isComponentCommandLine(cmdline: string, clusterDir: string): boolean {
  return cmdline.split("\0", 1)[0].startsWith(`${clusterDir}/bin/`);
}

/** Live components of the cluster in `clusterDir`, see {@link isComponentCommandLine}. */
async function clusterProcesses(
  clusterDir: string,
  candidates: Iterable<number>,
): Promise<ProcessIdentity[]> {
  const found: ProcessIdentity[] = [];
  for (const pid of new Set(candidates)) {
    if (pid === Deno.pid) continue;
    const [cmdline, stat] = [await procText(pid, "cmdline"), await procText(pid, "stat")];
    if (cmdline && stat && isComponentCommandLine(cmdline, clusterDir) && statShowsAlive(stat)) {
      found.push({ pid, startTime: statFields(stat)[19] });
    }
  }
  return found;
}

/** Those of `processes` still alive (a zombie has an empty cmdline, so this goes by pid and start time). */
async function stillAlive(processes: ProcessIdentity[]): Promise<ProcessIdentity[]> {
  const alive: ProcessIdentity[] = [];
  for (const p of processes) {
    const stat = await procText(p.pid, "stat");
    if (stat !== undefined && statFields(stat)[19] === p.startTime && statShowsAlive(stat)) alive.push(p);
  }
  return alive;
}

async function allPids(): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (entry.isDirectory && /^\d+$/.test(entry.name)) pids.push(Number(entry.name));
  }
  return pids;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Deletes a kwokctl cluster: `kwokctl delete cluster`, then SIGKILL for any of its processes that
 * survived, then removal of its cluster directory. Throws if a process outlives SIGKILL.
 */
export async function deleteCluster(where: ClusterLocation): Promise<void> {
  const clusterDir = clusterDirOf(where.workdir, where.name);
  const files = ownFiles(where.workdir, where.name);
  const recorded = await readComponentPids(clusterDir);
  const processes = await clusterProcesses(clusterDir, [...recorded, ...await allPids()]);
  if (await exists(clusterDir)) {
    const deleted = await runCommand(`${where.binDir}/kwokctl`, ["delete", "cluster", "--name", where.name], {
      env: kwokctlEnv(where.binDir, where.workdir, files.mergedKubeconfig, Deno.env.get("PATH")),
    });
    if (deleted.code !== 0) {
      log.warn("kwokctl delete cluster failed; killing its processes directly", {
        cluster: where.name,
        stderr: tailLines(deleted.stderr, 5),
      });
    }
  }
  await killSurvivors(where.name, processes);
  await Deno.remove(clusterDir, { recursive: true }).catch(ignoreNotFound);
  for (const file of Object.values(files)) await Deno.remove(file).catch(ignoreNotFound);
}

/**
 * SIGKILLs those of `processes` still alive until none is; throws if one outlives the grace period (5 s).
 * kwokctl SIGKILLs its components without waiting for them to exit, so this also waits until their ports
 * are free.
 */
async function killSurvivors(cluster: string, processes: ProcessIdentity[]): Promise<void> {
  const deadline = Date.now() + KILL_GRACE_MS;
  let left = await stillAlive(processes);
  while (left.length > 0) {
    if (Date.now() > deadline) {
      const pids = left.map((p) => p.pid).join(", ");
      throw new Error(`cluster ${cluster}: processes ${pids} are still alive after SIGKILL`);
    }
    for (const { pid } of left) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Exited between the check and the kill.
      }
    }
    await sleep(100);
    left = await stillAlive(left);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    ignoreNotFound(err);
    return false;
  }
}

function ignoreNotFound(err: unknown): void {
  if (!(err instanceof Deno.errors.NotFound)) throw err;
}

/** The last lines of every component log of a cluster, for error messages. */
export async function tailComponentLogs(clusterDir: string, lines = LOG_TAIL_LINES): Promise<string> {
  const parts: string[] = [];
  try {
    const names: string[] = [];
    for await (const entry of Deno.readDir(`${clusterDir}/logs`)) {
      if (entry.isFile && entry.name.endsWith(".log")) names.push(entry.name);
    }
    for (const name of names.sort()) {
      const text = await Deno.readTextFile(`${clusterDir}/logs/${name}`);
      parts.push(`--- ${name} (last ${lines} lines) ---\n${tailLines(text, lines)}`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return parts.length > 0 ? parts.join("\n") : `(no component logs in ${clusterDir}/logs)`;
}

async function assertBinaries(o: ResolvedControlPlaneOptions): Promise<void> {
  const required: [string, string][] = CONTROL_PLANE_BINARIES.map((b) => ["binDir", `${o.binDir}/${b}`]);
  if (o.prometheusPort > 0) required.push(["prometheusBinary", o.prometheusBinary]);
  const missing: string[] = [];
  for (const [field, path] of required) {
    try {
      const info = await Deno.stat(path);
      if (!info.isFile || ((info.mode ?? 0o111) & 0o111) === 0) {
        missing.push(`${field}: ${path} is not executable`);
      }
    } catch {
      missing.push(`${field}: ${path} does not exist`);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `startControlPlane: ${missing.join("; ")} (run tests/cluster/setup.sh to build the control plane)`,
    );
  }
}

// One set of SIGINT/SIGTERM/SIGHUP listeners tears down every live cluster of this process, then exits.
const liveTeardowns = new Set<() => Promise<void>>();
const signalHandlers: Record<"SIGINT" | "SIGTERM" | "SIGHUP", () => void> = {
  SIGINT: () => void teardownAllAndExit("SIGINT", 130),
  SIGTERM: () => void teardownAllAndExit("SIGTERM", 143),
  SIGHUP: () => void teardownAllAndExit("SIGHUP", 129),
};

async function teardownAllAndExit(signal: string, exitCode: number): Promise<void> {
  log.warn("received signal; tearing down local control planes", { signal, clusters: liveTeardowns.size });
  await Promise.allSettled([...liveTeardowns].map((teardown) => teardown()));
  Deno.exit(exitCode);
}

function trackTeardown(teardown: () => Promise<void>): void {
  if (liveTeardowns.size === 0) {
    for (const [signal, handler] of Object.entries(signalHandlers)) {
      Deno.addSignalListener(signal as Deno.Signal, handler);
    }
  }
  liveTeardowns.add(teardown);
}

function untrackTeardown(teardown: () => Promise<void>): void {
  if (!liveTeardowns.delete(teardown) || liveTeardowns.size > 0) return;
  for (const [signal, handler] of Object.entries(signalHandlers)) {
    Deno.removeSignalListener(signal as Deno.Signal, handler);
  }
}

async function waitUntilReady(
  plane: Pick<ControlPlane, "binDir" | "kubeconfigPath">,
  deadline: number,
  signal: AbortSignal,
): Promise<void> {
  const kubectl = (args: string[]) =>
    runCommand(`${plane.binDir}/kubectl`, [
      "--kubeconfig",
      plane.kubeconfigPath,
      "--request-timeout=5s",
      ...args,
    ], { signal });
  let waitingFor = "";
  while (true) {
    signal.throwIfAborted();
    const readyz = await kubectl(["get", "--raw", "/readyz"]);
    if (readyz.code === 0 && readyz.stdout.trim() === "ok") {
      const sa = await kubectl(["get", "serviceaccount", "default", "--namespace", "default", "-o", "name"]);
      if (sa.code === 0) return;
      waitingFor = `serviceaccount default/default: ${sa.stderr.trim()}`;
    } else {
      waitingFor = `/readyz: ${summarizeReadyz(readyz.stderr || readyz.stdout)}`;
    }
    if (Date.now() > deadline) throw new Error(`still waiting for ${tailLines(waitingFor, 10)}`);
    await sleep(250, signal);
  }
}

/** {@link waitUntilReady} with the tail of the component logs in its error, unless `signal` aborted. */
async function waitUntilReadyOrExplain(
  plane: Pick<ControlPlane, "name" | "binDir" | "kubeconfigPath" | "clusterDir">,
  timeoutMs: number,
  deadline: number,
  signal: AbortSignal,
): Promise<void> {
  try {
    await waitUntilReady(plane, deadline, signal);
  } catch (err) {
    if (signal.aborted) throw err;
    throw new Error(
      `cluster ${plane.name} not ready after ${timeoutMs}ms: ${(err as Error).message}\n` +
        await tailComponentLogs(plane.clusterDir),
    );
  }
}

/**
 * Starts a control plane with `kwokctl create cluster --runtime binary` and waits until `/readyz` is
 * `ok` and the `default` ServiceAccount exists. On failure everything started is torn down and the
 * error carries the tail of the component logs. While the cluster lives, SIGINT/SIGTERM/SIGHUP tear it
 * down and exit the process (130/143/129).
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const o = validateControlPlaneOptions(options);
  await assertBinaries(o);
  o.signal?.throwIfAborted();

  const ownsWorkdir = o.workdir === undefined;
  const workdir = o.workdir ?? await Deno.makeTempDir({ prefix: "fakegpu-kwok-" });
  await Deno.mkdir(workdir, { recursive: true });
  const name = o.name;
  const clusterDir = clusterDirOf(workdir, name);
  const files = ownFiles(workdir, name);
  const kwokctlKubeconfig = `${clusterDir}/kubeconfig.yaml`;
  const kubeconfigPath = `${clusterDir}/kubeconfig-verified.yaml`;
  if (await exists(clusterDir)) {
    throw new Error(
      `startControlPlane: name: cluster "${name}" already exists in ${workdir}; pick another name or delete it ` +
        "(deno task cluster:down for the shared workdir)",
    );
  }
  const progress = (msg: string) => {
    log.info(msg, { cluster: name });
    o.onProgress(msg);
  };

  const aborter = new AbortController();
  const onAbort = () => aborter.abort(o.signal?.reason);
  o.signal?.addEventListener("abort", onAbort, { once: true });
  let kwokctlRun: Promise<unknown> = Promise.resolve();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const started = performance.now();
      try {
        o.signal?.removeEventListener("abort", onAbort);
        aborter.abort(new Error(`cluster ${name} is stopping`));
        await kwokctlRun.catch(() => {});
        progress(`deleting cluster ${name}`);
        await deleteCluster({ binDir: o.binDir, workdir, name });
        if (ownsWorkdir) {
          await Deno.remove(workdir, { recursive: true }).catch(ignoreNotFound);
        } else {
          await Deno.remove(`${workdir}/clusters`).catch(() => {}); // only if empty
        }
        progress(`cluster ${name} deleted in ${((performance.now() - started) / 1000).toFixed(1)}s`);
      } finally {
        untrackTeardown(stop);
      }
    })();
    return stopping;
  };
  trackTeardown(stop);

  /** Runs `kwokctl <args>` for this cluster (abortable by stop()); throws with the logs' tails on failure. */
  const kwokctl = async (args: string[]) => {
    const run = runCommand(`${o.binDir}/kwokctl`, args, {
      env: kwokctlEnv(o.binDir, workdir, files.mergedKubeconfig, Deno.env.get("PATH")),
      signal: aborter.signal,
      onStderrLine: (line) => o.onProgress(`kwokctl: ${formatKwokctlLine(line)}`),
    });
    kwokctlRun = run;
    const result = await run;
    aborter.signal.throwIfAborted();
    if (result.code !== 0) {
      const stderr = tailLines(result.stderr, 20);
      throw new Error(
        `kwokctl ${args[0]} cluster ${name} failed (exit ${result.code}):\n${stderr}\n` +
          await tailComponentLogs(clusterDir),
      );
    }
  };

  try {
    await Deno.writeTextFile(files.config, kwokctlConfigYaml(o.nodeLeaseDurationSeconds, o.kwokNodesOnly));
    const started = performance.now();
    const deadline = Date.now() + o.readyTimeoutMs;
    progress(`creating cluster ${name} (KWOK_WORKDIR=${workdir})`);
    await kwokctl(kwokctlCreateArgs(o, files));
    const kwokctlConfig = await Deno.readTextFile(kwokctlKubeconfig);
    const server = serverFromKubeconfig(kwokctlConfig);
    await Deno.writeTextFile(kubeconfigPath, verifiedKubeconfig(kwokctlConfig, clusterDir));
    progress(`cluster ${name} created at ${server}; waiting for /readyz and the default ServiceAccount`);
    const plane = { name, binDir: o.binDir, kubeconfigPath, clusterDir };
    await waitUntilReadyOrExplain(plane, o.readyTimeoutMs, deadline, aborter.signal);
    progress(`cluster ${name} ready in ${((performance.now() - started) / 1000).toFixed(1)}s`);

    const restart = async () => {
      if (stopping) throw new Error(`cluster ${name}: cannot restart, it is stopping`);
      const begun = performance.now();
      const deadline = Date.now() + o.readyTimeoutMs;
      progress(`restarting cluster ${name}`);
      const processes = await clusterProcesses(clusterDir, await allPids());
      await kwokctl(["stop", "cluster", "--name", name]);
      await killSurvivors(name, processes); // kwokctl does not wait for its SIGKILLs to take effect
      await kwokctl(["start", "cluster", "--name", name, "--timeout", `${o.readyTimeoutMs}ms`]);
      const now = serverFromKubeconfig(await Deno.readTextFile(kwokctlKubeconfig));
      if (now !== server) throw new Error(`cluster ${name} came back at ${now} instead of ${server}`);
      await waitUntilReadyOrExplain(plane, o.readyTimeoutMs, deadline, aborter.signal);
      progress(`cluster ${name} restarted in ${((performance.now() - begun) / 1000).toFixed(1)}s`);
    };
    return {
      name,
      workdir,
      clusterDir,
      kubeconfigPath,
      server,
      binDir: o.binDir,
      prometheusUrl: o.prometheusPort > 0 ? `http://127.0.0.1:${o.prometheusPort}` : undefined,
      restart,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    const userAbort = o.signal?.aborted;
    await stop().catch((cleanupErr) =>
      log.warn("teardown after a failed start failed", { cluster: name, error: cleanupErr })
    );
    throw userAbort ? o.signal?.reason : err;
  }
}
