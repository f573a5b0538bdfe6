import assert from "node:assert/strict";
import { type FlagSpec, splitArgsAmongRoles, UsageError } from "./flags.ts";

const common: FlagSpec[] = [
  { name: "kubeconfig", description: "" },
  { name: "leader-elect", description: "", boolean: true },
];
const updater: FlagSpec[] = [...common, { name: "workers", description: "" }];
const exporter: FlagSpec[] = [{ name: "kubeconfig", description: "" }, {
  name: "address",
  description: "",
  short: "a",
}];

Deno.test("splitArgsAmongRoles() gives each role the flags it takes, with their values", () => {
  const [forUpdater, forExporter] = splitArgsAmongRoles(
    ["--kubeconfig", "k.yaml", "--leader-elect=false", "--workers=4", "-a", ":9400", "--help"],
    [updater, exporter],
  );
  assert.deepEqual(forUpdater, ["--kubeconfig", "k.yaml", "--leader-elect=false", "--workers=4", "--help"]);
  assert.deepEqual(forExporter, ["--kubeconfig", "k.yaml", "--address", ":9400", "--help"]);
});

Deno.test("splitArgsAmongRoles() refuses a flag no role takes and a stray argument", () => {
  assert.throws(() => splitArgsAmongRoles(["--colour=blue"], [updater, exporter]), UsageError);
  assert.throws(() => splitArgsAmongRoles(["-z"], [updater, exporter]), /Unknown flag "-z"/);
  assert.throws(() => splitArgsAmongRoles(["k.yaml"], [updater]), /Unexpected argument "k.yaml"/);
});
