import assert from "node:assert/strict";
import { TokenBucket } from "./token_bucket.ts";

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => t += ms };
}

Deno.test("TokenBucket allows a burst without waiting", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket(50, 100, clock.now);
  const waits = Array.from({ length: 100 }, () => bucket.reserve());
  assert.ok(waits.every((w) => w === 0));
});

Deno.test("TokenBucket spaces requests at 1/qps after the burst", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket(50, 100, clock.now);
  for (let i = 0; i < 100; i++) bucket.reserve();
  assert.equal(bucket.reserve(), 20);
  assert.equal(bucket.reserve(), 40);
  clock.advance(40);
  assert.equal(bucket.reserve(), 20);
});

Deno.test("TokenBucket refills to at most burst", () => {
  const clock = fakeClock();
  const bucket = new TokenBucket(10, 2, clock.now);
  bucket.reserve();
  bucket.reserve();
  clock.advance(60_000);
  assert.equal(bucket.reserve(), 0);
  assert.equal(bucket.reserve(), 0);
  assert.equal(bucket.reserve(), 100);
});

Deno.test("TokenBucket rejects a non-positive qps", () => {
  assert.throws(() => new TokenBucket(0, 1), RangeError);
  assert.throws(() => new TokenBucket(1, 0), RangeError);
});

Deno.test("TokenBucket.take() waits for its token", async () => {
  const bucket = new TokenBucket(20, 1);
  await bucket.take();
  const started = performance.now();
  await bucket.take();
  assert.ok(performance.now() - started >= 40);
});
