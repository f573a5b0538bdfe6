import assert from "node:assert/strict";
import { WorkQueue } from "./work_queue.ts";
import { setLogLevel } from "./log.ts";

setLogLevel("error");

Deno.test("WorkQueue handles a key added many times once", async () => {
  const seen: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const queue = new WorkQueue({
    concurrency: 1,
    handle: async (key) => {
      if (key === "block") await gate;
      seen.push(key);
    },
  });
  queue.add("block");
  queue.add("a");
  queue.add("a");
  queue.add("a");
  release();
  await queue.idle();
  assert.deepEqual(seen, ["block", "a"]);
});

Deno.test("WorkQueue handles a key again when it is added while being handled", async () => {
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const queue = new WorkQueue({
    handle: async () => {
      calls++;
      if (calls === 1) await gate;
    },
  });
  queue.add("k");
  await new Promise((r) => setTimeout(r, 5));
  queue.add("k");
  release();
  await queue.idle();
  assert.equal(calls, 2);
});

Deno.test("WorkQueue never handles the same key twice at once and respects concurrency", async () => {
  let running = 0;
  let peak = 0;
  const queue = new WorkQueue({
    concurrency: 3,
    handle: async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
    },
  });
  for (let i = 0; i < 20; i++) queue.add(`k${i % 10}`);
  await queue.idle();
  assert.equal(peak, 3);
});

Deno.test("WorkQueue retries a failing key with backoff until it succeeds", async () => {
  let attempts = 0;
  const queue = new WorkQueue({
    retryBaseMs: 1,
    handle: () => {
      attempts++;
      return attempts < 3 ? Promise.reject(new Error("conflict")) : Promise.resolve();
    },
  });
  queue.add("k");
  await queue.idle();
  assert.equal(attempts, 3);
});

Deno.test("WorkQueue drops pending work and retries when its signal aborts", async () => {
  const controller = new AbortController();
  let attempts = 0;
  const queue = new WorkQueue({
    retryBaseMs: 10_000,
    signal: controller.signal,
    handle: () => {
      attempts++;
      return Promise.reject(new Error("boom"));
    },
  });
  queue.add("k");
  await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  await queue.idle();
  queue.add("k");
  assert.equal(attempts, 1);
  assert.equal(queue.size, 0);
});
