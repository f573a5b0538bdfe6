import assert from "node:assert/strict";
import { backoffDelay, sleep } from "./backoff.ts";

const OPTIONS = { initialMs: 500, maxMs: 30_000, jitter: 0.2 };

Deno.test("backoffDelay() doubles per attempt without jitter", () => {
  const delays = [1, 2, 3, 4].map((attempt) => backoffDelay(attempt, OPTIONS, () => 0));
  assert.deepEqual(delays, [500, 1000, 2000, 4000]);
});

Deno.test("backoffDelay() adds at most the jitter fraction", () => {
  assert.equal(backoffDelay(1, OPTIONS, () => 0.999999), 500 * (1 + 0.999999 * 0.2));
});

Deno.test("backoffDelay() never exceeds maxMs", () => {
  assert.equal(backoffDelay(7, OPTIONS, () => 0.9), 30_000);
  assert.equal(backoffDelay(10_000, OPTIONS, () => 0.5), 30_000);
});

Deno.test("sleep() resolves early on abort", async () => {
  const controller = new AbortController();
  const started = performance.now();
  const waiting = sleep(10_000, controller.signal);
  controller.abort();
  await waiting;
  assert.ok(performance.now() - started < 1000);
});
