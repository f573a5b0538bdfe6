/**
 * stdout and stderr that may go away: `fakegpu local-fleet | tee fleet.log` loses its reader with the same
 * Ctrl-C that starts the teardown, and every later write fails with BrokenPipe. A write here never throws,
 * and {@link watchOutputPipes} tells when nobody reads the output any more, so the teardown still runs.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Writes `text` whole to stdout or stderr; a closed or broken stream is ignored. */
export function writeOutput(stream: "stdout" | "stderr", text: string): void {
  const out = stream === "stdout" ? Deno.stdout : Deno.stderr;
  try {
    const bytes = encoder.encode(text);
    for (let written = 0; written < bytes.length;) written += out.writeSync(bytes.subarray(written));
  } catch {
    // Nobody reads any more: nothing to tell, and no reason to stop what is running.
  }
}

/** `pipe:[<inode>]` when file descriptor `fd` of this process is a pipe. */
async function pipeOf(fd: number): Promise<string | undefined> {
  const link = await Deno.readLink(`/proc/self/fd/${fd}`).catch(() => "");
  return /^pipe:\[\d+\]$/.test(link) ? link : undefined;
}

/** Those of `pids` (other than this process) that hold `pipe` open for reading. */
async function readersOf(pipe: string, pids: number[]): Promise<number[]> {
  const readers: number[] = [];
  for (const pid of pids) {
    if (pid === Deno.pid) continue;
    try {
      for await (const entry of Deno.readDir(`/proc/${pid}/fd`)) {
        if (await Deno.readLink(`/proc/${pid}/fd/${entry.name}`).catch(() => "") !== pipe) continue;
        const info = await Deno.readTextFile(`/proc/${pid}/fdinfo/${entry.name}`);
        const flags = /^flags:\s+([0-7]+)$/m.exec(info)?.[1];
        if (flags !== undefined && (parseInt(flags, 8) & 3) === 0) readers.push(pid); // O_RDONLY
      }
    } catch {
      // The process is gone or not ours to inspect.
    }
  }
  return readers;
}

async function allPids(): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (/^\d+$/.test(entry.name)) pids.push(Number(entry.name));
  }
  return pids;
}

/** Options of {@link watchOutputPipes}. */
export interface OutputPipesOptions {
  /** Called once when the last reader of a piped stdout or stderr has closed it. */
  onClosed: () => void;
  /** Stops watching. */
  signal: AbortSignal;
  /** Time between checks. @default 1000 */
  intervalMs?: number;
}

/**
 * Watches a piped stdout and stderr (Linux /proc): finds the processes reading each pipe once, then checks
 * every `intervalMs` whether any of them still holds it open. Streams that are not pipes, or pipes whose
 * readers cannot be seen (another user's processes), are not watched.
 */
export async function watchOutputPipes(options: OutputPipesOptions): Promise<void> {
  const pipes = [...new Set((await Promise.all([pipeOf(1), pipeOf(2)])).filter((p) => p !== undefined))];
  if (pipes.length === 0) return;
  const pids = await allPids();
  const watched = await Promise.all(
    pipes.map(async (pipe) => ({ pipe, readers: await readersOf(pipe, pids) })),
  );
  const seen = watched.filter((w) => w.readers.length > 0);
  while (seen.length > 0 && !options.signal.aborted) {
    await new Promise((resolve) => Deno.unrefTimer(setTimeout(resolve, options.intervalMs ?? 1000)));
    for (const w of seen) {
      if (options.signal.aborted) return;
      if ((await readersOf(w.pipe, w.readers)).length === 0) return options.onClosed();
    }
  }
}
