/**
 * Client-side rate limiting: a token bucket refilled at `qps` tokens per second holding at most `burst`.
 *
 * @module
 */

import { sleep } from "./backoff.ts";

/**
 * A token bucket. Each request takes one token; when none is left, the request waits for the next one.
 * Reservations queue up fairly: the bucket may go negative, and each caller waits for its own token.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * const bucket = new TokenBucket(50, 100);
 * await bucket.take();
 * ```
 */
export class TokenBucket {
  #qps: number;
  #burst: number;
  #tokens: number;
  #last: number;
  #now: () => number;

  /**
   * @param qps Tokens added per second; must be positive.
   * @param burst Bucket size: requests allowed at once after an idle period; must be at least 1.
   * @param now Monotonic clock in milliseconds, replaceable in tests.
   */
  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    if (!(qps > 0)) throw new RangeError(`Cannot create token bucket: qps must be positive, got ${qps}`);
    if (!(burst >= 1)) {
      throw new RangeError(`Cannot create token bucket: burst must be at least 1, got ${burst}`);
    }
    this.#qps = qps;
    this.#burst = burst;
    this.#tokens = burst;
    this.#now = now;
    this.#last = now();
  }

  /**
   * Reserves one token and returns how long the caller must wait before using it (0 when one was available).
   *
   * @returns The wait in milliseconds.
   */
  reserve(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }

  /**
   * Takes one token, waiting as long as needed; returns early when `signal` aborts.
   *
   * @param signal Ends the wait early.
   */
  async take(signal?: AbortSignal): Promise<void> {
    await sleep(this.reserve(), signal);
  }
}
