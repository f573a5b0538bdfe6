/**
 * The isolation a real kubelet needs on a test machine (see shared/reference/real-kubelet.md, "DANGER"): a
 * private mount namespace, held open by a `sleep` process, where `/` is read-only and only `/tmp` (bound to
 * itself), overlays of `/var/lib` and `/var/log` (upper directories in the scratch directory) and plain files
 * over the sysctls the kubelet sets are writable. Every process of the node runs inside it through
 * `nsenter`, with the empty `<scratch>/work` as its working directory.
 *
 * @module
 */

/** A process started inside the namespace. */
export interface NamespacedProcess {
  /** What it is, for messages. */
  readonly name: string;
  /** Process id (nsenter execs the command, so this is the command's own pid). */
  readonly pid: number;
  /** File receiving its stdout and stderr. */
  readonly logFile: string;
  /** Resolves with the exit code once it has exited. */
  readonly exited: Promise<number>;
  /** Sends SIGTERM (SIGKILL after `graceMs`, default 5000) and waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

/** A private mount namespace with a read-only root; see the module doc. */
export interface IsolatedNamespace {
  /** Process id of the process holding the namespace open (for `nsenter -t`). */
  readonly pid: number;
  /** Scratch directory under /tmp holding the overlays' upper directories, logs and sockets. */
  readonly scratch: string;
  /** Starts `command args` inside the namespace, output appended to `<scratch>/<name>.log`. */
  start(name: string, command: string, args: string[], env?: Record<string, string>): NamespacedProcess;
  /**
   * Stops every process started here, ends the namespace and removes the scratch directory (kept, with the
   * logs, when `FAKEGPU_KEEP_LOGS` is set).
   */
  close(): Promise<void>;
}

/** Sysctl files the kubelet writes; each gets a private copy bound over it. */
const SYSCTLS = ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops"];

/** The shell script that sets up the namespace, run by `unshare -m --propagation private`. */
export function namespaceSetupScript(scratch: string): string {
  return `set -euo pipefail
# Refuse to touch anything unless this really is a new mount namespace.
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || { echo "not in a private mount namespace" >&2; exit 1; }
mount --make-rprivate /
mount --bind /tmp /tmp
for d in lib log; do
  mkdir -p ${scratch}/overlay/$d/upper ${scratch}/overlay/$d/work
  mount -t overlay overlay -o lowerdir=/var/$d,upperdir=${scratch}/overlay/$d/upper,workdir=${scratch}/overlay/$d/work /var/$d
done
mkdir -p ${scratch}/sysctl
for f in ${SYSCTLS.join(" ")}; do
  copy=${scratch}/sysctl/$(echo "$f" | tr / _)
  cat /proc/sys/$f > "$copy"
  mount --bind "$copy" /proc/sys/$f
done
mount -o remount,bind,ro /
echo ready
exec sleep infinity
`;
}

/** Creates the namespace; resolves once it is set up. */
export async function openIsolatedNamespace(): Promise<IsolatedNamespace> {
  const scratch = await Deno.makeTempDir({ dir: "/tmp", prefix: "fakegpu-kubelet-" });
  await Deno.mkdir(`${scratch}/work`);
  const holder = new Deno.Command("unshare", {
    args: ["-m", "--propagation", "private", "bash", "-c", namespaceSetupScript(scratch)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const first = await reader.read();
  if (first.value?.trim() !== "ready") {
    const stderr = await new Response(holder.stderr).text();
    await holder.status;
    await Deno.remove(scratch, { recursive: true });
    throw new Error(`isolated namespace setup failed: ${stderr.trim() || first.value}`);
  }
  await reader.cancel();
  await holder.stderr.cancel();
  const processes: NamespacedProcess[] = [];

  const start = (name: string, command: string, args: string[], env?: Record<string, string>) => {
    const logFile = `${scratch}/${name}.log`;
    const child = new Deno.Command("bash", {
      args: [
        "-c",
        'exec nsenter -t "$0" -m --wd="$1" -- "${@:2}" >>"$LOG" 2>&1',
        String(holder.pid),
        `${scratch}/work`,
        command,
        ...args,
      ],
      env: { ...env, LOG: logFile },
      stdin: "null",
    }).spawn();
    const exited = child.status.then((s) => s.code);
    const stop = async (graceMs = 5_000) => {
      try {
        child.kill("SIGTERM");
      } catch {
        return; // already exited
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    };
    const process = { name, pid: child.pid, logFile, exited, stop };
    processes.push(process);
    return process;
  };

  const close = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    try {
      holder.kill("SIGKILL");
    } catch {
      // already gone
    }
    await holder.status;
    if (Deno.env.get("FAKEGPU_KEEP_LOGS")) console.error(`kubelet node files kept in ${scratch}`);
    else await Deno.remove(scratch, { recursive: true });
  };
  return { pid: holder.pid, scratch, start, close };
}
