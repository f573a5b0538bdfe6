import assert from "node:assert/strict";
import { isGpuHealthy, parseGpuFaults } from "./gpu_faults.ts";

Deno.test("parseGpuFaults() reads per-GPU faults and merges them over `all`", () => {
  const { faults, error } = parseGpuFaults('{"all": {"temperatureC": 95}, "2": {"xid": 79}}', 4);
  assert.equal(error, undefined);
  assert.deepEqual(faults.get(2), { temperatureC: 95, xid: 79 });
  assert.deepEqual(faults.get(0), { temperatureC: 95 });
  assert.equal(faults.size, 4);
  assert.equal(parseGpuFaults("{0: {fallenOffBus: true}}", 8).faults.get(0)?.fallenOffBus, true);
  assert.equal(parseGpuFaults(undefined, 8).faults.size, 0);
  assert.equal(parseGpuFaults("", 8).faults.size, 0);
});

Deno.test("parseGpuFaults() rejects bad values with the offending key or field, never throws", () => {
  const cases: [string, RegExp][] = [
    ['{"9": {"xid": 79}}', /key "9" is not "all" or a GPU index below 8/],
    ['{"0": {"xid": "abc"}}', /0\.xid/],
    ['{"0": {"temprature": 90}}', /temprature/],
    ["[1, 2", /not JSON or YAML/],
    ['{"0": {"memoryUsedPercent": 120}}', /0\.memoryUsedPercent/],
    ['"xid"', /expected record/],
  ];
  for (const [value, message] of cases) {
    const parsed = parseGpuFaults(value, 8);
    assert.match(parsed.error ?? "", message, value);
    assert.match(parsed.error ?? "", /^fakegpu\.io\/gpu-faults: /);
    assert.equal(parsed.faults.size, 0);
  }
});

Deno.test("isGpuHealthy() follows NVIDIA's device plugin: application XIDs keep a GPU healthy", () => {
  assert.equal(isGpuHealthy(undefined), true);
  assert.equal(isGpuHealthy({ xid: 13 }), true);
  assert.equal(isGpuHealthy({ xid: 43 }), true);
  assert.equal(isGpuHealthy({ xid: 79 }), false);
  assert.equal(isGpuHealthy({ xid: 48 }), false);
  assert.equal(isGpuHealthy({ temperatureC: 99, memoryUsedPercent: 99 }), true);
  assert.equal(isGpuHealthy({ eccErrors: { correctable: 10 } }), true);
  assert.equal(isGpuHealthy({ eccErrors: { uncorrectable: 1 } }), false);
  assert.equal(isGpuHealthy({ rowRemapFailure: true }), false);
  assert.equal(isGpuHealthy({ fallenOffBus: true }), false);
});
