/**
 * A keyed work queue for reconcilers: a key added many times is handled once; a key added again while
 * it is being handled is handled once more afterwards; a failed key is retried with exponential backoff.
 * At most `concurrency` keys are handled at a time and never the same key twice at once.
 *
 * @module
 */
import { log } from "./log.ts";

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Handles one key; a thrown error schedules a retry. */
  handle: (key: string) => Promise<void>;
  /** Keys handled at the same time. @default 4 */
  concurrency?: number;
  /** First retry delay in milliseconds; doubles per failure. @default 250 */
  retryBaseMs?: number;
  /** Longest retry delay in milliseconds. @default 30000 */
  retryMaxMs?: number;
  /** Stops the queue: pending keys are dropped and retries cancelled. */
  signal?: AbortSignal;
}

/** A deduplicating, retrying work queue of string keys. */
export class WorkQueue {
  #options: Required<Omit<WorkQueueOptions, "signal">> & { signal?: AbortSignal };
  #pending = new Set<string>();
  #active = new Set<string>();
  #dirty = new Set<string>();
  #failures = new Map<string, number>();
  #timers = new Map<string, ReturnType<typeof setTimeout>>();
  #idleWaiters: Array<() => void> = [];

  /** Creates a queue; it starts handling keys as soon as they are added. */
  constructor(options: WorkQueueOptions) {
    this.#options = { concurrency: 4, retryBaseMs: 250, retryMaxMs: 30000, ...options };
    options.signal?.addEventListener("abort", () => {
      for (const timer of this.#timers.values()) clearTimeout(timer);
      this.#timers.clear();
      this.#pending.clear();
      this.#notifyIdle();
    });
  }

  /** Number of keys waiting, being handled or waiting for a retry. */
  get size(): number {
    return new Set([...this.#pending, ...this.#active, ...this.#timers.keys()]).size;
  }

  /** Queues a key for handling. */
  add(key: string): void {
    if (this.#options.signal?.aborted) return;
    const timer = this.#timers.get(key);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#timers.delete(key);
    }
    if (this.#active.has(key)) {
      this.#dirty.add(key);
      return;
    }
    this.#pending.add(key);
    this.#pump();
  }

  /** Resolves when no key is waiting, being handled or waiting for a retry. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #notifyIdle(): void {
    if (this.#idleWaiters.length === 0) return;
    if (this.size !== 0 && !this.#options.signal?.aborted) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #pump(): void {
    while (this.#active.size < this.#options.concurrency && this.#pending.size > 0) {
      const key = this.#pending.values().next().value as string;
      this.#pending.delete(key);
      this.#active.add(key);
      this.#run(key);
    }
  }

  async #run(key: string): Promise<void> {
    try {
      await this.#options.handle(key);
      this.#failures.delete(key);
    } catch (err) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      const delay = Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** (failures - 1));
      log.warn("reconcile failed, will retry", { key, attempt: failures, retryInMs: delay, error: err });
      if (!this.#options.signal?.aborted && !this.#dirty.has(key)) {
        this.#timers.set(
          key,
          setTimeout(() => {
            this.#timers.delete(key);
            this.add(key);
          }, delay),
        );
      }
    } finally {
      this.#active.delete(key);
      if (this.#dirty.delete(key) && !this.#options.signal?.aborted) this.#pending.add(key);
      this.#pump();
      this.#notifyIdle();
    }
  }
}
