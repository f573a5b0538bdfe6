import assert from "node:assert/strict";
import { parseFlags, UsageError } from "../core/flags.ts";
import { draPluginFlagsSchema, FLAGS } from "./mod.ts";

const parse = (args: string[], nodeNameFromEnv?: string) =>
  parseFlags(args, FLAGS, draPluginFlagsSchema(nodeNameFromEnv), { env: {} });

Deno.test("dra-plugin flags: scope kwok is leader-elected by default", () => {
  const flags = parse([]);
  assert.equal(flags.nodeScope, "kwok");
  assert.equal(flags.leaderElect, true);
});

Deno.test("dra-plugin flags: scope this-node serves --node-name or $NODE_NAME without leader election", () => {
  assert.equal(parse(["--node-scope", "this-node"], "gpu-7").nodeName, "gpu-7");
  const flags = parse(["--node-scope", "this-node", "--node-name", "gpu-1"], "gpu-7");
  assert.equal(flags.nodeName, "gpu-1");
  assert.equal(flags.leaderElect, false);
});

Deno.test("dra-plugin flags: errors name the flag", () => {
  assert.throws(
    () => parse(["--node-scope", "this-node"]),
    (e) => e instanceof UsageError && /--node-name: required with --node-scope this-node/.test(e.message),
  );
  assert.throws(
    () => parse(["--node-scope", "all"]),
    /--node-scope: expected "kwok" or "this-node", got "all"/,
  );
});
