import assert from "node:assert/strict";
import { dump as dumpYaml, load as loadYaml } from "js-yaml";
import { toBlockYaml } from "./block_yaml.ts";
import { testState } from "./test_state.ts";

const jsYaml = (value: unknown) => dumpYaml(value, { noRefs: true, lineWidth: -1, skipInvalid: true });

const AWKWARD = [
  "",
  " lead",
  "trail ",
  "true",
  "False",
  "yes",
  "No",
  "off",
  "y",
  "null",
  "~",
  "123",
  "0123",
  "1234567890123",
  "0x1A",
  "1e3",
  ".inf",
  "2026-01-01T00:00:00.000Z",
  "a: b",
  "a #b",
  "-dash",
  "- item",
  "[x]",
  "{x}",
  "*alias",
  "&anchor",
  "!tag",
  "it's",
  'say "hi"',
  "two\nlines",
  "tab\there",
  "ünï",
  "GPU-1a2b3c4d-0000-1111-2222-333344445555",
  "NVIDIA-A100-SXM4-80GB",
  "default/pod-7",
  "00000000:1A:00.0",
];

Deno.test("toBlockYaml() writes what js-yaml writes, for awkward strings, numbers and nesting", () => {
  const values: unknown[] = [
    ...AWKWARD,
    ...AWKWARD.map((s) => ({ [s]: s, nested: { list: [s, { key: s }], empty: [], none: {} } })),
    { numbers: [0, -1, 42, 2 ** 53, 0.5, -0, 1e21, NaN, Infinity], flags: [true, false, null] },
    { skipped: undefined, kept: 1, fn: () => 1 },
    { onlyUndefined: { a: undefined } },
    [[1, [2, 3]], [], {}, [{ a: [{ b: 1 }] }]],
    { deep: { deeper: { deepest: ["x", { y: "z" }] } } },
    42,
    null,
    [],
    {},
  ];
  for (const value of values) assert.equal(toBlockYaml(value), jsYaml(value), JSON.stringify(value));
});

Deno.test("toBlockYaml() of a node state equals js-yaml's: shared utilization written out, no anchors", () => {
  const state = testState("kwok-a100-0", "A100-SXM4-80GB", 8);
  const utilization = { min: 60, max: 70 };
  const holder = (pod: string, share?: number) => ({
    namespace: "default",
    pod,
    podUid: `uid-${pod}`,
    container: "main",
    utilization,
    memoryUsedMiB: 40960,
    share,
    since: "2026-12-08T01:02:03.456Z",
  });
  state.devices[0] = { ...state.devices[0], holders: [holder("a", 0.5), holder("b", 0.25)] };
  state.devices[1] = { ...state.devices[1], holders: [holder("a")], busyEnergyJ: 1234.5 };
  const text = toBlockYaml(state);
  assert.equal(text, jsYaml(state));
  assert.doesNotMatch(text, /[&*]a1/);
  assert.deepEqual(loadYaml(text), JSON.parse(JSON.stringify(state)));
});
