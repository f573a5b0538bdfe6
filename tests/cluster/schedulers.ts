/**
 * Volcano and Kueue as local processes against a test cluster, for end-to-end tests of fakegpu's fleet under
 * a batch scheduler (see shared/reference/schedulers.md), plus that fleet with its roles and a reader of the
 * GPU holders its node states record. The binaries, CRDs and Volcano's scheduler
 * configuration come from `tests/cluster/build.sh` (parts `volcano` and `kueue`, in `<binDir>/volcano` and
 * `<binDir>/kueue`). Every process listens on 127.0.0.1 only, on free ports, with the cluster's admin
 * kubeconfig, no leader election and no webhooks; its log goes to a throwaway directory.
 *
 * ```ts
 * await using cluster = await startTestCluster();
 * await using volcano = await startVolcano(cluster);
 * // ... on a failed step: volcano.keepLogs() keeps the logs and prints their last lines at disposal
 * ```
 *
 * Kueue v0.17 with its internal certificate management off reads its metrics certificate from the
 * hard-coded `/etc/kueue/metrics/certs`. It therefore runs inside a private mount namespace (`unshare -m`)
 * where `/etc` is an overlay whose upper directory is in the throwaway directory and `/` is read-only apart
 * from `/tmp`: the host's `/etc` is never written.
 *
 * @module
 */

import { stringify as stringifyYaml } from "yaml";
import { type NodeGpuDevice, STATE_SELECTOR, stateFromConfigMap } from "../../components/core/node_state.ts";
import { connect, type KubeClient } from "../../components/core/kube/client.ts";
import { runCommand } from "../../components/local_fleet/control_plane.ts";
import { createDefaultFleet, FLEET_NAMESPACE, gpuCounts } from "./fleet_fixtures.ts";
import { type RoleProcess, startRole } from "./roles.ts";
import { type TestCluster, waitFor } from "./harness.ts";
import { freePort } from "./prometheus.ts";

/** Volcano's or Kueue's processes running against a test cluster; dispose it with `await using`. */
export interface LocalScheduler extends AsyncDisposable {
  /** `volcano` or `kueue`. */
  readonly name: string;
  /** Throwaway directory with the processes' logs (and Kueue's configuration and certificates). */
  readonly dir: string;
  /** Keep {@link dir} at disposal and print the last lines of every log then (call it when a test failed). */
  keepLogs(): void;
}

/** One process with its output appended to a log file. */
interface LoggedProcess {
  readonly logFile: string;
  readonly exited: Promise<number>;
  stop(): Promise<void>;
}

/** Volcano's scheduler name (`spec.schedulerName` of the pods it places). */
export const VOLCANO_SCHEDULER_NAME = "volcano";

/** The pod annotation naming a pod's Volcano PodGroup. */
export const VOLCANO_GROUP_ANNOTATION = "scheduling.k8s.io/group-name";

/** The Job label naming a Job's Kueue LocalQueue. */
export const KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name";

const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 30;

/** Ports of a Kueue process on 127.0.0.1. */
export interface KueuePorts {
  /** Health probes (`/readyz`, `/healthz`). */
  health: number;
  /** Metrics (HTTPS with the certificate under /etc/kueue/metrics/certs). */
  metrics: number;
  /** Webhook server (nothing calls it: no webhook configuration is registered). */
  webhook: number;
}

/**
 * Kueue's Configuration for a local process: namespace `kueue-system`, no leader election, no internal
 * certificate management (no Secrets or webhook configurations written), servers on 127.0.0.1, the webhook
 * server's certificate from `certDir`, and only the `batch/job` integration.
 */
export function kueueConfiguration(ports: KueuePorts, certDir: string): string {
  return stringifyYaml({
    apiVersion: "config.kueue.x-k8s.io/v1beta2",
    kind: "Configuration",
    namespace: "kueue-system",
    health: { healthProbeBindAddress: `127.0.0.1:${ports.health}` },
    metrics: { bindAddress: `127.0.0.1:${ports.metrics}` },
    webhook: { host: "127.0.0.1", port: ports.webhook, certDir },
    leaderElection: { leaderElect: false },
    internalCertManagement: { enable: false },
    integrations: { frameworks: ["batch/job"] },
  });
}

/**
 * The script `unshare -m --propagation private bash -c` runs before it execs Kueue (`"$0" "$@"`): refuses to
 * go on outside a new mount namespace, lays an overlay over `/etc` (upper and work directories under `dir`),
 * puts `dir/certs/tls.{crt,key}` into `/etc/kueue/metrics/certs` there, keeps `/tmp` writable and makes `/`
 * read-only.
 */
export function kueueNamespaceScript(dir: string): string {
  return `set -euo pipefail
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || { echo "not in a private mount namespace" >&2; exit 1; }
mount --make-rprivate /
mkdir -p ${dir}/etc-overlay/upper ${dir}/etc-overlay/work
mount -t overlay overlay -o lowerdir=/etc,upperdir=${dir}/etc-overlay/upper,workdir=${dir}/etc-overlay/work /etc
mkdir -p /etc/kueue/metrics/certs
cp ${dir}/certs/tls.crt ${dir}/certs/tls.key /etc/kueue/metrics/certs/
mount --bind /tmp /tmp
mount -o remount,bind,ro /
exec "$0" "$@"
`;
}

/** `command` run inside a new private mount namespace set up by {@link kueueNamespaceScript}. */
export function inKueueNamespace(dir: string, command: string[]): string[] {
  return ["unshare", "-m", "--propagation", "private", "bash", "-c", kueueNamespaceScript(dir), ...command];
}

/** Whether `promise` settles within `ms` milliseconds. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts `command args` with stdout and stderr appended to `logFile`. */
function startLogged(command: string, args: string[], logFile: string): LoggedProcess {
  const child = new Deno.Command("bash", {
    args: ["-c", 'exec "$0" "$@" >>"$LOG" 2>&1', command, ...args],
    env: { LOG: logFile },
    stdin: "null",
  }).spawn();
  const exited = child.status.then((s) => s.code);
  const send = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // it has exited
    }
  };
  const stop = async () => {
    send("SIGTERM");
    if (!await settlesWithin(exited, STOP_GRACE_MS)) send("SIGKILL");
    await exited;
  };
  return { logFile, exited, stop };
}

async function printLogTails(files: string[]): Promise<void> {
  for (const file of files) {
    const text = await Deno.readTextFile(file).catch(() => "");
    console.error(`--- ${file} (last ${LOG_TAIL_LINES} lines) ---`);
    console.error(text.trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n"));
  }
}

/** What a scheduler's start-up may do: start logged processes in the throwaway directory. */
interface StartContext {
  readonly dir: string;
  run(name: string, command: string, args: string[]): LoggedProcess;
}

/**
 * Runs `body` with a fresh throwaway directory and returns the handle stopping what it started. When `body`
 * fails, everything it started is stopped, the logs are printed and kept, and the error is rethrown.
 */
async function startLocalScheduler(
  name: string,
  body: (context: StartContext) => Promise<void>,
): Promise<LocalScheduler> {
  const dir = await Deno.makeTempDir({ prefix: `fakegpu-${name}-` });
  const processes: LoggedProcess[] = [];
  let keep = Boolean(Deno.env.get("FAKEGPU_KEEP_LOGS"));
  let failed = false;
  const stop = async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    if (failed) await printLogTails(await logFiles(dir));
    if (keep || failed) console.error(`${name} logs kept in ${dir}`);
    else await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const run = (process: string, command: string, args: string[]) => {
    const started = startLogged(command, args, `${dir}/${process}.log`);
    processes.push(started);
    return started;
  };
  try {
    await body({ dir, run });
  } catch (err) {
    failed = true;
    await stop();
    throw err;
  }
  return {
    name,
    dir,
    keepLogs: () => {
      keep = true;
      failed = true;
    },
    [Symbol.asyncDispose]: stop,
  };
}

async function logFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".log")) files.push(`${dir}/${entry.name}`);
  }
  return files.sort();
}

/** Applies every CRD in `crdDir` server-side and waits until each is Established. */
async function installCrds(cluster: TestCluster, crdDir: string): Promise<void> {
  await cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", crdDir);
  await cluster.kubectl("wait", "--for", "condition=Established", "--timeout=60s", "-f", crdDir);
}

async function ensureNamespace(cluster: TestCluster, name: string): Promise<void> {
  await cluster.kubectlApply(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }));
}

/** Waits until `url` answers 2xx, failing early with the log's tail when `process` exits. */
async function waitHealthy(what: string, url: string, process: LoggedProcess): Promise<void> {
  let exitCode: number | undefined;
  void process.exited.then((code) => exitCode = code);
  await waitFor(`${what} healthy at ${url}`, async () => {
    if (exitCode !== undefined) throw new Error(`${what} exited with ${exitCode} (log: ${process.logFile})`);
    const response = await fetch(url).catch(() => undefined);
    await response?.body?.cancel();
    return response?.ok;
  }, { timeoutMs: 90_000 });
}

/**
 * Starts Volcano (vc-scheduler with the chart's scheduler configuration, and vc-controller-manager) after
 * installing its CRDs and namespace `volcano-system`; resolves once both are healthy and the `default` Queue
 * exists.
 */
export function startVolcano(cluster: TestCluster): Promise<LocalScheduler> {
  const home = `${cluster.binDir}/volcano`;
  return startLocalScheduler("volcano", async ({ dir, run }) => {
    await installCrds(cluster, `${home}/crd`);
    await ensureNamespace(cluster, "volcano-system");
    const common = ["--kubeconfig", cluster.kubeconfigPath, "--leader-elect=false", "--enable-healthz"];
    const schedulerHealth = freePort();
    const scheduler = run("vc-scheduler", `${home}/vc-scheduler`, [
      ...common,
      `--scheduler-conf=${home}/volcano-scheduler.conf`,
      `--listen-address=127.0.0.1:${freePort()}`,
      `--healthz-address=127.0.0.1:${schedulerHealth}`,
      `--cache-dump-dir=${dir}`,
    ]);
    const controllerHealth = freePort();
    const controller = run("vc-controller-manager", `${home}/vc-controller-manager`, [
      ...common,
      `--healthz-address=127.0.0.1:${controllerHealth}`,
    ]);
    await waitHealthy("vc-scheduler", `http://127.0.0.1:${schedulerHealth}/healthz`, scheduler);
    await waitHealthy("vc-controller-manager", `http://127.0.0.1:${controllerHealth}/healthz`, controller);
    // A raw path: kubectl's discovery cache may be a previous cluster's on the same port, where `queue`
    // named Kueue's LocalQueues.
    await waitFor("Volcano's default Queue", async () => {
      await cluster.kubectl("get", "--raw", "/apis/scheduling.volcano.sh/v1beta1/queues/default");
      return true;
    });
  });
}

/**
 * Starts Kueue (`batch/job` integration, Configuration of {@link kueueConfiguration}) inside its private
 * mount namespace after installing its CRDs and namespace `kueue-system`, with a self-signed certificate for
 * 127.0.0.1; resolves once `/readyz` answers.
 */
export function startKueue(cluster: TestCluster): Promise<LocalScheduler> {
  const home = `${cluster.binDir}/kueue`;
  return startLocalScheduler("kueue", async ({ dir, run }) => {
    await installCrds(cluster, `${home}/crd`);
    await ensureNamespace(cluster, "kueue-system");
    await selfSignedCertificate(`${dir}/certs`);
    const ports = { health: freePort(), metrics: freePort(), webhook: freePort() };
    await Deno.writeTextFile(`${dir}/config.yaml`, kueueConfiguration(ports, `${dir}/certs`));
    const [command, ...args] = inKueueNamespace(dir, [
      `${home}/kueue`,
      `-kubeconfig=${cluster.kubeconfigPath}`,
      `-config=${dir}/config.yaml`,
      "-feature-gates=VisibilityOnDemand=false",
      `-visibility-server-port=${freePort()}`,
    ]);
    const kueue = run("kueue", command, args);
    await waitHealthy("kueue", `http://127.0.0.1:${ports.health}/readyz`, kueue);
  });
}

/** Writes `tls.crt` and `tls.key` (self-signed, P-256, for 127.0.0.1, one day) into `certDir`. */
async function selfSignedCertificate(certDir: string): Promise<void> {
  await Deno.mkdir(certDir, { recursive: true });
  const result = await runCommand("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    "-keyout",
    `${certDir}/tls.key`,
    "-out",
    `${certDir}/tls.crt`,
  ]);
  if (result.code !== 0) {
    throw new Error(`openssl could not make a test certificate: ${result.stderr.trim()}`);
  }
}

/** fakegpu's default KWOK fleet with status-updater and the KWOK device plugin running against it. */
export interface GpuFleet extends AsyncDisposable {
  /** A client of the cluster, closed at disposal. */
  readonly client: KubeClient;
  /** Keep the roles' logs at disposal (call it when a test failed). */
  keepLogs(): void;
}

/**
 * Creates the default fleet (5 KWOK nodes, 32 GPUs) on `cluster`, starts status-updater and
 * `device-plugin --node-scope kwok` and resolves once every GPU is advertised; disposal stops the roles.
 */
export async function startGpuFleet(cluster: TestCluster): Promise<GpuFleet> {
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-scheduler-roles-" });
  const roles: RoleProcess[] = [];
  let keep = Boolean(Deno.env.get("FAKEGPU_KEEP_LOGS"));
  const stop = async () => {
    await Promise.all(roles.splice(0).map((r) => r.stop()));
    client.close();
    if (keep) console.error(`role logs kept in ${logDir}`);
    else await Deno.remove(logDir, { recursive: true }).catch(() => {});
  };
  try {
    const plan = await createDefaultFleet(client);
    const total = plan.reduce((sum, p) => sum + p.gpus, 0);
    const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", FLEET_NAMESPACE];
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    roles.push(await startRole("device-plugin", [...roleArgs, "--node-scope", "kwok"], { logDir }));
    await waitFor(`${total} GPUs advertised`, async () => {
      const counts = Object.values(await gpuCounts(client));
      return counts.reduce((sum, c) => sum + Number(c ?? 0), 0) === total;
    }, { timeoutMs: 90_000 });
  } catch (err) {
    keep = true;
    await stop();
    throw err;
  }
  return { client, keepLogs: () => keep = true, [Symbol.asyncDispose]: stop };
}

/** A `t.step` that makes `handles` keep their logs when the step fails. */
export function stepKeepingLogs(
  t: Deno.TestContext,
  ...handles: { keepLogs(): void }[]
): (name: string, fn: () => Promise<void>) => Promise<void> {
  return async (name, fn) => {
    if (await t.step(name, fn)) return;
    for (const handle of handles) handle.keepLogs();
  };
}

/** Pod UIDs holding a GPU in the node state: the one line to adapt when the holder model changes. */
const holderUids = (d: NodeGpuDevice): string[] => (d.holders ?? []).map((h) => h.podUid);

/** The holder pod UID of every held GPU in every node state, sorted (a pod holding 2 GPUs appears twice). */
export async function gpuHolderUids(client: KubeClient): Promise<string[]> {
  const { items } = await client.list<{ data?: Record<string, string> }>(
    `/api/v1/namespaces/${FLEET_NAMESPACE}/configmaps`,
    { labelSelector: STATE_SELECTOR },
  );
  return items.flatMap((cm) => stateFromConfigMap(cm)?.devices ?? []).flatMap(holderUids).sort();
}

/**
 * Waits until the node states' GPU holders are exactly `podUids` (a pod's UID once per GPU it holds, in any
 * order); the timeout names how many GPUs were held.
 */
export async function waitForGpuHolders(client: KubeClient, what: string, podUids: string[]): Promise<void> {
  const expected = JSON.stringify([...podUids].sort());
  await waitFor(what, async () => {
    const held = await gpuHolderUids(client);
    if (JSON.stringify(held) === expected) return true;
    throw new Error(`${held.length} GPUs held, expected ${podUids.length}`);
  });
}
