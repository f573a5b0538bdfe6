/**
 * `fakegpu nvidia-smi` as a user meets it before any GPU is read: the real tool's refusals (messages on
 * stdout and exit codes, from tests/nvidia_smi/real/errors.txt), `--help`, the name `nvidia-smi`, and an
 * unreachable state source (one line, no stack trace).
 */
import assert from "node:assert/strict";
import { roleOfExecutable } from "../../main.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function smi(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "nvidia-smi", ...args],
    env: { NODE_NAME: "", NVIDIA_VISIBLE_DEVICES: "", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** The real tool's answers that need no GPU: `$ nvidia-smi <args>`, its output, `exit <code>`. */
async function realRefusals(): Promise<{ args: string[]; output: string; code: number }[]> {
  const text = await Deno.readTextFile(new URL("./real/errors.txt", import.meta.url));
  return text.split(/^\$ nvidia-smi /m).filter((s) => s).map((block) => {
    const [command, ...rest] = block.split("\n");
    const body = rest.join("\n");
    const exit = /exit (\d+)\n$/.exec(body)!;
    return { args: command.split(" "), output: body.slice(0, exit.index), code: Number(exit[1]) };
  }).filter((c) => c.output !== "No devices were found\n");
}

Deno.test("unknown flags, fields and formats are answered as the real nvidia-smi answers them", async () => {
  const cases = await realRefusals();
  assert.ok(cases.length >= 5);
  for (const { args, output, code } of cases) {
    const got = await smi(args);
    assert.equal(got.stdout, output, args.join(" "));
    assert.equal(got.code, code, args.join(" "));
  }
});

Deno.test("--help names the formats and fakegpu's flags", async () => {
  const { code, stdout } = await smi(["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /^NVIDIA System Management Interface/);
  for (
    const flag of ["--query-gpu=", "--format=", "-L", "--kubeconfig=", "--node=", "NVIDIA_VISIBLE_DEVICES"]
  ) {
    assert.ok(stdout.includes(flag), flag);
  }
});

Deno.test("an unreachable API server: the known UUIDs and one line saying what is missing, no stack trace", async () => {
  const dir = await Deno.makeTempDir();
  const kubeconfig = `${dir}/kubeconfig`;
  await Deno.writeTextFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: "http://127.0.0.1:9" } }],
      users: [{ name: "u", user: {} }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
      "current-context": "x",
    }),
  );
  const uuid = "GPU-6941753e-0358-1381-c49d-2cbaecc101ea";
  const { code, stdout, stderr } = await smi(["-L", "--kubeconfig", kubeconfig, "--node", "kwok-h100-0"], {
    NVIDIA_VISIBLE_DEVICES: uuid,
  });
  await Deno.remove(dir, { recursive: true });
  assert.equal(code, 9);
  const lines = stdout.trimEnd().split("\n");
  assert.equal(lines[0], `GPU 0: (UUID: ${uuid})`);
  assert.match(
    lines[1],
    /^fakegpu nvidia-smi: cannot read ConfigMap gpu-operator\/fakegpu-node-kwok-h100-0: .+; product, memory/,
  );
  assert.equal(lines.length, 2);
  assert.doesNotMatch(stdout + stderr, /\n\s+at /);
});

Deno.test("the executable runs as nvidia-smi under that name", () => {
  assert.equal(roleOfExecutable("/usr/bin/nvidia-smi", "fakegpu"), "nvidia-smi");
  assert.equal(roleOfExecutable("/app/fakegpu", "/usr/local/bin/nvidia-smi"), "nvidia-smi");
  assert.equal(roleOfExecutable("/app/fakegpu", "fakegpu"), undefined);
});

Deno.test("kubectl nvidia-smi <node> runs fakegpu nvidia-smi for that node", async () => {
  const plugin = new URL("../../deploy/kubectl-nvidia_smi", import.meta.url).pathname;
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(plugin, {
      args,
      env: { FAKEGPU: `${Deno.execPath()} run --allow-all ${MAIN}`, NVIDIA_VISIBLE_DEVICES: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, text: decode(out.stdout) + decode(out.stderr) };
  };
  assert.deepEqual(await run(), { code: 2, text: "usage: kubectl nvidia-smi <node> [nvidia-smi flags]\n" });
  const { code, text } = await run("kwok-h100-0", "-L", "--kubeconfig", "/nonexistent");
  assert.equal(code, 9);
  assert.match(text, /^fakegpu nvidia-smi: cannot read ConfigMap gpu-operator\/fakegpu-node-kwok-h100-0: /);
});
