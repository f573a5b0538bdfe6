import assert from "node:assert/strict";
import type { PodLike } from "../core/allocation.ts";
import { formatDeviceList, HAMI_ALLOCATED_ANNOTATION } from "../core/hami.ts";
import { testState } from "../core/test_state.ts";
import { hamiGpuUses } from "./hami_pods.ts";

const { devices } = testState("n1", "a100-80gb", 4);
const uuid = (i: number) => devices[i].uuid;

function pod(name: string, created: string, allocated?: string, gpus = 1): PodLike {
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      creationTimestamp: created,
      ...(allocated === undefined ? {} : { annotations: { [HAMI_ALLOCATED_ANNOTATION]: allocated } }),
    },
    spec: { containers: [{ name: "main", resources: { limits: { "nvidia.com/gpu": String(gpus) } } }] },
  };
}

const entry = (gpu: number, memoryMiB: number, cores = 0) => ({
  uuid: uuid(gpu),
  type: "NVIDIA",
  memoryMiB,
  cores,
});

Deno.test("hamiGpuUses() puts each pod on the GPUs HAMi chose, with its memory and core share", () => {
  const { uses, problems } = hamiGpuUses([
    pod("b", "2026-12-03T10:00:02Z", formatDeviceList([[entry(1, 3000)]])),
    pod("a", "2026-12-03T10:00:01Z", formatDeviceList([[entry(1, 2000, 30)]])),
    pod(
      "multi",
      "2026-12-03T10:00:03Z",
      formatDeviceList([[entry(0, 1000)], [entry(0, 500, 20), entry(2, 4000)]]),
      2,
    ),
    pod("plain", "2026-12-03T10:00:04Z", undefined, 0),
  ], devices);
  assert.deepEqual(problems, []);
  assert.deepEqual(
    uses,
    new Map([
      [1, [{ podUid: "uid-a", memoryMiB: 2000, share: 0.3 }, { podUid: "uid-b", memoryMiB: 3000 }]],
      [0, [{ podUid: "uid-multi", memoryMiB: 1500, share: 0.2 }]],
      [2, [{ podUid: "uid-multi", memoryMiB: 4000 }]],
    ]),
  );
});

Deno.test("hamiGpuUses() gives no GPU to a pod whose allocation is missing, malformed or names another node's GPU", () => {
  const missing = pod("missing", "2026-12-03T10:00:01Z");
  const malformed = pod("malformed", "2026-12-03T10:00:02Z", `${uuid(0)},NVIDIA,lots,0:;`);
  const elsewhere = pod(
    "elsewhere",
    "2026-12-03T10:00:03Z",
    "GPU-00000000-0000-0000-0000-000000000000,NVIDIA,10,0:;",
  );
  const { uses, problems } = hamiGpuUses([missing, malformed, elsewhere], devices);
  assert.deepEqual(uses, new Map());
  assert.deepEqual(problems, [
    { pod: missing, error: `${HAMI_ALLOCATED_ANNOTATION}: missing` },
    {
      pod: malformed,
      error:
        `${HAMI_ALLOCATED_ANNOTATION}: container 0, device "${
          uuid(0)
        },NVIDIA,lots,0": memory "lots" is not a ` +
        "whole number of MiB",
    },
    {
      pod: elsewhere,
      error:
        `${HAMI_ALLOCATED_ANNOTATION}: GPU GPU-00000000-0000-0000-0000-000000000000 is not a GPU of the node`,
    },
  ]);
});
