import assert from "node:assert/strict";
import { findGpuModel, GPU_CATALOGUE } from "./catalogue.ts";
import { gpuDevices } from "./identity.ts";
import type { GpuHolder, NodeGpuDevice } from "./node_state.ts";
import { gpuReadings, loadBusyEnergyJ, utilizationAt } from "./telemetry.ts";

const h100 = findGpuModel("h100")!;
const [device] = gpuDevices("kwok-h100-0", h100, 1);
const T0 = Date.UTC(2026, 11, 3, 12) / 1000;
const holder: GpuHolder = {
  namespace: "team",
  pod: "train",
  podUid: "uid-1",
  container: "main",
  utilization: { min: 40, max: 80 },
  since: new Date((T0 - 600) * 1000).toISOString(),
};

Deno.test("gpuReadings() of an idle GPU sit at the model's idle values", () => {
  for (const model of GPU_CATALOGUE) {
    const [d] = gpuDevices("n", model, 1);
    for (let t = T0; t < T0 + 600; t += 37) {
      const r = gpuReadings(model, d, t)!;
      assert.equal(r.gpuUtil, 0, model.key);
      assert.equal(r.fb.used, 0);
      assert.equal(r.smClockMHz, model.clocks.smIdleMHz);
      assert.ok(
        Math.abs(r.powerW - model.power.idleW) <= model.power.idleW * 0.03,
        `${model.key} ${r.powerW}`,
      );
      assert.ok(Math.abs(r.gpuTempC - model.temperature.idleC) <= 1);
    }
  }
});

Deno.test("gpuReadings() of a held GPU move inside the holder's range and the model's envelope", () => {
  const held: NodeGpuDevice = { ...device, holders: [holder] };
  const seen = new Set<number>();
  for (let t = T0; t < T0 + 900; t += 7) {
    const r = gpuReadings(h100, held, t)!;
    assert.ok(r.gpuUtil >= 40 && r.gpuUtil <= 80, String(r.gpuUtil));
    seen.add(r.gpuUtil);
    assert.ok(r.powerW > h100.power.idleW && r.powerW < h100.power.capW);
    assert.ok(r.gpuTempC > h100.temperature.idleC && r.gpuTempC <= h100.temperature.loadC + 1);
    assert.ok(r.smClockMHz <= h100.clocks.smMaxMHz && r.smClockMHz > h100.clocks.smIdleMHz);
    assert.ok(r.prof.smActive > 0 && r.prof.smActive <= 1);
    assert.equal(r.memoryTempC, r.gpuTempC + h100.temperature.memoryOffsetC);
  }
  assert.ok(seen.size > 10, "utilization moves");
  const a = gpuReadings(h100, held, T0)!;
  const b = gpuReadings(h100, held, T0 + 1)!;
  assert.ok(Math.abs(a.gpuUtil - b.gpuUtil) <= 3, "utilization moves smoothly");
});

Deno.test("gpuReadings() are a pure function of the GPU, holder, faults and time", () => {
  const held: NodeGpuDevice = { ...device, holders: [holder] };
  assert.deepEqual(gpuReadings(h100, held, T0), gpuReadings(h100, structuredClone(held), T0));
  const [other] = gpuDevices("kwok-h100-1", h100, 1);
  assert.notEqual(utilizationAt(device.uuid, [holder], T0), utilizationAt(other.uuid, [holder], T0));
});

Deno.test("the energy counter rises by the integral of the power, also when a holder goes", () => {
  const held: NodeGpuDevice = { ...device, holders: [holder] };
  let last = gpuReadings(h100, device, T0 - 1000)!.energyMJ;
  for (let t = T0 - 1000; t < T0 + 1000; t += 1) {
    const d = t < T0 - 600
      ? device
      : t < T0
      ? held
      : { ...device, busyEnergyJ: Math.ceil(loadBusyEnergyJ(h100, held, T0)) };
    const r = gpuReadings(h100, d, t)!;
    const next = gpuReadings(h100, d, t + 1)!;
    const delta = (next.energyMJ - r.energyMJ) / 1000;
    assert.ok(Math.abs(delta - (r.powerW + next.powerW) / 2) < 2, `at ${t}: ${delta} J vs ${r.powerW} W`);
    assert.ok(r.energyMJ >= last, `monotonic at ${t}`);
    last = r.energyMJ;
  }
});

Deno.test("framebuffer used + free + reserved equals the model's memory", () => {
  for (const model of GPU_CATALOGUE) {
    const [d] = gpuDevices("n", model, 1);
    for (
      const dev of [d, { ...d, holders: [holder] }, { ...d, holders: [{ ...holder, memoryUsedMiB: 1234 }] }, {
        ...d,
        faults: { memoryUsedPercent: 99 },
      }]
    ) {
      const { fb } = gpuReadings(model, dev, T0)!;
      assert.equal(fb.used + fb.free + fb.reserved, model.memoryMiB, model.key);
      assert.equal(fb.total, model.memoryMiB);
    }
  }
  assert.equal(
    gpuReadings(h100, { ...device, holders: [{ ...holder, memoryUsedMiB: 1234 }] }, T0)!.fb.used,
    1234,
  );
  const pressure = gpuReadings(h100, { ...device, faults: { memoryUsedPercent: 98 } }, T0)!.fb;
  assert.ok(pressure.used / (pressure.used + pressure.free) > 0.95);
});

Deno.test("faults show in the readings: XID, heat with throttling, ECC, a GPU lost from the bus", () => {
  const since = new Date((T0 - 10) * 1000).toISOString();
  const hot = gpuReadings(h100, {
    ...device,
    holders: [holder],
    faults: { temperatureC: 95 },
    faultsSince: since,
  }, T0)!;
  assert.equal(hot.gpuTempC, 95);
  assert.ok(hot.smClockMHz < h100.clocks.smMaxMHz * 0.7);
  assert.equal(hot.violationNs.thermal, 10e9);
  assert.ok(hot.clockEventReasons & 0x40);
  assert.equal(gpuReadings(h100, { ...device, faults: { xid: 48 } }, T0)!.xid, 48);
  assert.equal(gpuReadings(h100, { ...device, faults: { xid: 48 } }, T0)!.healthy, false);
  const ecc = gpuReadings(h100, { ...device, faults: { eccErrors: { correctable: 3 } } }, T0)!;
  assert.deepEqual(ecc.remappedRows, { correctable: 3, uncorrectable: 0, failed: false });
  assert.equal(ecc.healthy, true);
  assert.equal(gpuReadings(h100, { ...device, faults: { fallenOffBus: true } }, T0), undefined);
});
