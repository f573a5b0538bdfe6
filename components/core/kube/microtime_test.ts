import assert from "node:assert/strict";
import { formatMicroTime } from "./microtime.ts";

Deno.test("formatMicroTime() writes six fractional digits in UTC", () => {
  assert.equal(
    formatMicroTime(new Date(Date.UTC(2026, 10, 23, 10, 0, 0, 123))),
    "2026-11-23T10:00:00.123000Z",
  );
  assert.equal(formatMicroTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 0))), "2026-01-02T03:04:05.000000Z");
});

Deno.test("formatMicroTime() matches the API server layout", () => {
  assert.match(formatMicroTime(new Date()), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
});
