import assert from "node:assert/strict";
import {
  bindCompletion,
  formatDeviceList,
  formatHandshakeTime,
  formatLock,
  formatRegister,
  HAMI_ALLOCATED_ANNOTATION,
  HAMI_BIND_PHASE_ANNOTATION,
  HAMI_HANDSHAKE_ANNOTATION,
  HAMI_REGISTER_ANNOTATION,
  HAMI_TO_ALLOCATE_ANNOTATION,
  hamiDeviceType,
  hamiNodeAnnotations,
  handshakeReply,
  lockNamesPod,
  parseDeviceList,
  parseLock,
  registeredGpus,
} from "./hami.ts";
import type { HamiSharing } from "./model.ts";
import { testState } from "./test_state.ts";

const SHARING: HamiSharing = { splitCount: 10, memoryScaling: 1, coreScaling: 1, registerFormat: "json" };
const state = testState("n1", "a100-80gb", 2);
const [gpu0, gpu1] = state.devices.map((d) => d.uuid);
const NOW = new Date("2026-12-03T21:30:05.123Z");

Deno.test("registeredGpus() registers each GPU with the split count, scaled memory and cores, and health", () => {
  const faulty = [state.devices[0], { ...state.devices[1], faults: { xid: 79 } }];
  const registered = (id: string, index: number, health: boolean) => ({
    id,
    index,
    count: 10,
    devmem: 122880,
    devcore: 200,
    type: "NVIDIA A100-SXM4-80GB",
    numa: 0,
    mode: "hami-core",
    health,
  });
  assert.deepEqual(registeredGpus(faulty, state.gpu, { ...SHARING, memoryScaling: 1.5, coreScaling: 2 }), [
    registered(gpu0, 0, true),
    registered(gpu1, 1, false),
  ]);
  assert.equal(hamiDeviceType("Tesla T4"), "NVIDIA-Tesla T4");
  assert.equal(hamiDeviceType("NVIDIA L40S"), "NVIDIA L40S");
});

Deno.test("formatRegister() writes HAMi's JSON with omitempty semantics, or the text format", () => {
  const gpus = registeredGpus([state.devices[0], { ...state.devices[1], faults: { fallenOffBus: true } }], {
    product: "Tesla T4",
    memoryMiB: 15360,
  }, SHARING);
  assert.deepEqual(JSON.parse(formatRegister(gpus, "json")), [
    {
      id: gpu0,
      count: 10,
      devmem: 15360,
      devcore: 100,
      type: "NVIDIA-Tesla T4",
      mode: "hami-core",
      health: true,
    },
    {
      id: gpu1,
      index: 1,
      count: 10,
      devmem: 15360,
      devcore: 100,
      type: "NVIDIA-Tesla T4",
      mode: "hami-core",
    },
  ]);
  assert.equal(
    formatRegister(gpus, "text"),
    `${gpu0},10,15360,100,NVIDIA-Tesla T4,0,true,0,hami-core:${gpu1},10,15360,100,NVIDIA-Tesla T4,0,false,1,hami-core:`,
  );
});

Deno.test("hamiNodeAnnotations() writes the register when it changed, answers a handshake request, removes a stale register", () => {
  assert.equal(formatHandshakeTime(NOW), "2026-12-03 21:30:05");
  assert.equal(handshakeReply("Requesting_2026-12-03 21:29:00", NOW), "Reported 2026-12-03 21:30:05");
  assert.equal(handshakeReply("Deleted_2026-12-03 21:29:00", NOW), "Reported 2026-12-03 21:30:05");
  assert.equal(handshakeReply("Reported 2026-12-03 21:00:00", NOW), undefined);
  assert.deepEqual(hamiNodeAnnotations(undefined, "[]", NOW), {
    [HAMI_REGISTER_ANNOTATION]: "[]",
    [HAMI_HANDSHAKE_ANNOTATION]: "Reported 2026-12-03 21:30:05",
  });
  const current = {
    [HAMI_REGISTER_ANNOTATION]: "[]",
    [HAMI_HANDSHAKE_ANNOTATION]: "Reported 2026-12-03 21:00:00",
  };
  assert.equal(hamiNodeAnnotations(current, "[]", NOW), undefined);
  assert.deepEqual(hamiNodeAnnotations(current, "[{}]", NOW), { [HAMI_REGISTER_ANNOTATION]: "[{}]" });
  assert.deepEqual(hamiNodeAnnotations(current, undefined, NOW), { [HAMI_REGISTER_ANNOTATION]: null });
  assert.equal(
    hamiNodeAnnotations({ [HAMI_HANDSHAKE_ANNOTATION]: "Requesting_x" }, undefined, NOW),
    undefined,
  );
  assert.deepEqual(
    hamiNodeAnnotations(
      { ...current, [HAMI_HANDSHAKE_ANNOTATION]: "Requesting_2026-12-03 21:30:00" },
      "[]",
      NOW,
    ),
    { [HAMI_HANDSHAKE_ANNOTATION]: "Reported 2026-12-03 21:30:05" },
  );
});

Deno.test("parseDeviceList() reads devices per container and formatDeviceList() writes them back", () => {
  const text = `${gpu0},NVIDIA,3000,0:;${gpu0},NVIDIA,1000,30:${gpu1},NVIDIA,2000,0:;;`;
  const parsed = parseDeviceList(HAMI_ALLOCATED_ANNOTATION, text);
  assert.deepEqual(parsed.value, [
    [{ uuid: gpu0, type: "NVIDIA", memoryMiB: 3000, cores: 0 }],
    [{ uuid: gpu0, type: "NVIDIA", memoryMiB: 1000, cores: 30 }, {
      uuid: gpu1,
      type: "NVIDIA",
      memoryMiB: 2000,
      cores: 0,
    }],
    [],
  ]);
  assert.equal(formatDeviceList(parsed.value!), text);
  assert.deepEqual(parseDeviceList(HAMI_ALLOCATED_ANNOTATION, ";").value, [[]]);
});

Deno.test("parseDeviceList() names the annotation and the offending part of a malformed list", () => {
  const cases: [string | undefined, string][] = [
    [undefined, "missing"],
    [
      `${gpu0},NVIDIA,lots,0:;`,
      `container 0, device "${gpu0},NVIDIA,lots,0": memory "lots" is not a whole number of MiB`,
    ],
    [`;${gpu0},NVIDIA,10:;`, `container 1, device "${gpu0},NVIDIA,10": cores "" is not a whole number`],
    [`,NVIDIA,10,0:;`, `container 0, device ",NVIDIA,10,0": no device UUID`],
    [`${gpu0},,10,-5:;`, `container 0, device "${gpu0},,10,-5": no device type`],
  ];
  for (const [text, error] of cases) {
    assert.equal(
      parseDeviceList(HAMI_TO_ALLOCATE_ANNOTATION, text).error,
      `${HAMI_TO_ALLOCATE_ANNOTATION}: ${error}`,
    );
  }
});

Deno.test("formatLock() and parseLock() agree; lockNamesPod() matches only the pod the lock names", () => {
  const lock = formatLock(NOW, "team-a", "train-1");
  assert.equal(lock, "2026-12-03T21:30:05Z,team-a,train-1");
  assert.deepEqual(parseLock(lock).value, {
    time: "2026-12-03T21:30:05Z",
    namespace: "team-a",
    pod: "train-1",
  });
  assert.deepEqual(parseLock("2026-12-03T21:30:05Z").value, { time: "2026-12-03T21:30:05Z" });
  assert.match(parseLock("soon,team-a,train-1").error!, /^hami\.io\/mutex\.lock: expected/);
  assert.equal(lockNamesPod(lock, "team-a", "train-1"), true);
  assert.equal(lockNamesPod(lock, "team-a", "train-10"), false);
  assert.equal(lockNamesPod(lock, "team-b", "train-1"), false);
  assert.equal(lockNamesPod("2026-12-03T21:30:05Z", "team-a", "train-1"), false);
  assert.equal(lockNamesPod(undefined, "team-a", "train-1"), false);
});

Deno.test("bindCompletion() consumes the devices, sets success and releases the pod's own lock", () => {
  const devices = `${gpu1},NVIDIA,3000,0:;`;
  const annotations = {
    [HAMI_BIND_PHASE_ANNOTATION]: "allocating",
    [HAMI_TO_ALLOCATE_ANNOTATION]: `;${devices}`,
    [HAMI_ALLOCATED_ANNOTATION]: `;${devices}`,
  };
  const input = {
    namespace: "ns",
    pod: "p",
    annotations,
    nodeLock: formatLock(NOW, "ns", "p"),
    nodeGpus: new Set([gpu0, gpu1]),
  };
  assert.deepEqual(bindCompletion(input), {
    podAnnotations: { [HAMI_TO_ALLOCATE_ANNOTATION]: ";;", [HAMI_BIND_PHASE_ANNOTATION]: "success" },
    releaseLock: true,
  });
  assert.equal(bindCompletion({ ...input, nodeLock: formatLock(NOW, "ns", "other") })?.releaseLock, false);
  assert.equal(bindCompletion({ ...input, nodeLock: undefined })?.releaseLock, false);
  for (const phase of ["success", "failed", undefined]) {
    const other = { ...annotations, [HAMI_BIND_PHASE_ANNOTATION]: phase! };
    assert.equal(bindCompletion({ ...input, annotations: phase ? other : {} }), undefined);
  }
});

Deno.test("bindCompletion() fails the bind on a malformed list or a GPU the node lacks, and still releases the lock", () => {
  const base = {
    namespace: "ns",
    pod: "p",
    nodeLock: formatLock(NOW, "ns", "p"),
    nodeGpus: new Set([gpu0]),
  };
  const failed = (annotations: Record<string, string>) =>
    bindCompletion({ ...base, annotations: { [HAMI_BIND_PHASE_ANNOTATION]: "allocating", ...annotations } });
  assert.deepEqual(
    failed({ [HAMI_TO_ALLOCATE_ANNOTATION]: "garbage;", [HAMI_ALLOCATED_ANNOTATION]: "garbage;" }),
    {
      podAnnotations: { [HAMI_BIND_PHASE_ANNOTATION]: "failed" },
      releaseLock: true,
      error: `${HAMI_TO_ALLOCATE_ANNOTATION}: container 0, device "garbage": no device type`,
    },
  );
  const elsewhere = `${gpu1},NVIDIA,3000,0:;`;
  assert.equal(
    failed({ [HAMI_TO_ALLOCATE_ANNOTATION]: elsewhere, [HAMI_ALLOCATED_ANNOTATION]: elsewhere })?.error,
    `${HAMI_TO_ALLOCATE_ANNOTATION}: GPU ${gpu1} is not a GPU of the node`,
  );
  assert.equal(
    failed({ [HAMI_TO_ALLOCATE_ANNOTATION]: `${gpu0},NVIDIA,3000,0:;` })?.error,
    `${HAMI_ALLOCATED_ANNOTATION}: missing`,
  );
});
