/**
 * Runs fakegpu roles as real child processes for end-to-end tests (`deno run main.ts <role> ...`), so a
 * test can kill and restart them like a Deployment would. Each role's log goes to a file in `logDir`.
 *
 * @module
 */

import { ROLE_V8_FLAGS } from "../../components/core/role_runtime.ts";

const MAIN = decodeURIComponent(new URL("../../main.ts", import.meta.url).pathname);

/** A running role process. */
export interface RoleProcess {
  /** Role name. */
  readonly role: string;
  /** File the role's stdout and stderr go to. */
  readonly logFile: string;
  /** Process id of the role. */
  readonly pid: number;
  /** Resolves with the exit code once the process has exited by itself or was stopped. */
  readonly exited: Promise<number>;
  /** Sends a signal (default SIGTERM) and waits for the process to exit. */
  stop(signal?: Deno.Signal): Promise<void>;
  /** Same as `stop("SIGTERM")`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@link startRole}. */
export interface StartRoleOptions {
  /** Directory for the log file. */
  logDir: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Extra `deno run` flags, e.g. `--cpu-prof`. */
  denoFlags?: string[];
}

let counter = 0;

/**
 * Copies a child's output into its log file chunk by chunk, so a test can read the log while the role
 * runs (on Deno 2.9, `stream.pipeTo(file.writable)` wrote nothing until the child exited).
 */
async function copyToFile(stream: ReadableStream<Uint8Array>, file: Deno.FsFile): Promise<void> {
  try {
    for await (const chunk of stream) {
      for (let written = 0; written < chunk.length;) written += await file.write(chunk.subarray(written));
    }
  } catch {
    // The child is gone.
  } finally {
    file.close();
  }
}

/** Starts `fakegpu <role> <args>` as a child process. */
export async function startRole(
  role: string,
  args: string[],
  options: StartRoleOptions,
): Promise<RoleProcess> {
  const logFile = `${options.logDir}/${role}-${++counter}.log`;
  const out = await Deno.open(logFile, { create: true, write: true, append: true });
  const err = await Deno.open(logFile, { write: true, append: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `--v8-flags=${ROLE_V8_FLAGS}`,
      ...options.denoFlags ?? [],
      MAIN,
      role,
      ...args,
    ],
    env: { FAKEGPU_LOG_LEVEL: "info", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pumps = Promise.all([copyToFile(child.stdout, out), copyToFile(child.stderr, err)]);
  let stopped: Promise<void> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    stopped ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      await child.status;
      await pumps;
    })();
    return stopped;
  };
  const exited = Promise.all([child.status, pumps]).then(([status]) => status.code);
  return { role, logFile, pid: child.pid, exited, stop, [Symbol.asyncDispose]: () => stop() };
}
