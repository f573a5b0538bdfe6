/**
 * `deno compile` turns fakegpu into one executable. It needs a genuine `denort` base binary, which cannot
 * be downloaded on fakegpu's build machines: set DENORT_BIN to one to run this test; without it the test
 * is skipped (reported as ignored) rather than faked.
 */
import assert from "node:assert/strict";

const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.error(
    "compile_test: skipped; set DENORT_BIN to a genuine denort binary to test `deno task compile` (it cannot be downloaded here)",
  );
}

Deno.test({
  name: "deno compile builds one executable that runs every role",
  ignore: !denort,
  fn: async () => {
    const root = new URL("..", import.meta.url).pathname;
    const exe = `${root}dist/fakegpu`;
    const compile = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(compile.code, 0, new TextDecoder().decode(compile.stderr));
    {
      const help = await new Deno.Command(exe, { args: ["--help"], stdout: "piped" }).output();
      const text = new TextDecoder().decode(help.stdout);
      for (const role of ["status-updater", "device-plugin", "dcgm-exporter", "local-fleet"]) {
        assert.match(text, new RegExp(role));
      }
      const roleHelp = await new Deno.Command(exe, {
        args: ["device-plugin", "--help"],
        stdout: "piped",
      }).output();
      assert.match(new TextDecoder().decode(roleHelp.stdout), /--node-scope/);
    }
  },
});
