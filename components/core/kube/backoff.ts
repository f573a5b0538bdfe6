/**
 * Backoff delays and an abortable sleep, shared by request retries, the reflector and leader election.
 *
 * @module
 */

/** Options of {@link backoffDelay}. */
export interface BackoffOptions {
  /** Delay of the first retry in milliseconds. */
  initialMs: number;
  /** Upper bound of any delay in milliseconds. */
  maxMs: number;
  /**
   * Random extra fraction added on top of the exponential delay: 0.2 means up to 20% longer.
   *
   * @default {0.2}
   */
  jitter?: number;
}

/**
 * Returns the delay before retry number `attempt` (1-based): `initialMs * 2^(attempt-1)`, stretched by a random
 * jitter and capped at `maxMs`.
 *
 * @param attempt How many consecutive failures have happened, starting at 1.
 * @param options Initial and maximum delay and the jitter fraction.
 * @param random Source of randomness in [0, 1), replaceable in tests.
 * @returns The delay in milliseconds.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const base = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.min(options.maxMs, base * (1 + random() * (options.jitter ?? 0.2)));
}

/**
 * Waits `ms` milliseconds; resolves early (without throwing) when `signal` aborts.
 *
 * @param ms How long to wait.
 * @param signal Ends the wait early.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
