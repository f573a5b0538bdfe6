/** The `fakegpu` command line as a user meets it: help, version, and clear exit-2 errors for bad input. */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function fakegpu(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("fakegpu --help lists every role with one line each", async () => {
  const { code, stdout } = await fakegpu("--help");
  assert.equal(code, 0);
  for (const role of ["status-updater", "device-plugin", "dra-plugin", "dcgm-exporter", "local-fleet"]) {
    assert.match(stdout, new RegExp(`^  ${role}\\s+\\S`, "m"));
  }
});

Deno.test("fakegpu --version prints the version", async () => {
  const { code, stdout } = await fakegpu("--version");
  assert.equal(code, 0);
  assert.match(stdout, /^fakegpu \d+\.\d+\.\d+$/m);
});

Deno.test("fakegpu rejects an unknown role with usage and exit code 2", async () => {
  const { code, stderr } = await fakegpu("gpu-wizard");
  assert.equal(code, 2);
  assert.match(stderr, /unknown role "gpu-wizard"/);
  assert.match(stderr, /Usage: fakegpu <role>/);
});

Deno.test("a role rejects a bad flag naming it, with exit code 2", async () => {
  const scope = await fakegpu("device-plugin", "--node-scope", "everywhere");
  assert.equal(scope.code, 2);
  assert.match(scope.stderr, /--node-scope: expected "kwok" or "this-node", got "everywhere"/);
  const unknown = await fakegpu("status-updater", "--colour=blue");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown flag "--colour"/);
  const workers = await fakegpu("status-updater", "--workers", "0");
  assert.equal(workers.code, 2);
  assert.match(workers.stderr, /--workers:/);
});

Deno.test("roles joined with + refuse unknown or one-shot roles and flags no role takes, exit code 2", async () => {
  const unknown = await fakegpu("status-updater+gpu-wizard");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown role "gpu-wizard"/);
  const twice = await fakegpu("device-plugin+device-plugin");
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /a role is named twice/);
  const oneShot = await fakegpu("status-updater+nvidia-smi");
  assert.equal(oneShot.code, 2);
  assert.match(oneShot.stderr, /nvidia-smi runs on its own/);
  const flag = await fakegpu("status-updater+device-plugin", "--colour=blue");
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /Unknown flag "--colour"/);
  const value = await fakegpu("status-updater+device-plugin", "--node-scope", "everywhere");
  assert.equal(value.code, 2);
  assert.match(value.stderr, /fakegpu device-plugin: --node-scope: expected "kwok" or "this-node"/);
});

Deno.test("roles joined with + print each role's flags for --help", async () => {
  const { code, stdout } = await fakegpu("status-updater+dcgm-exporter", "--help");
  assert.equal(code, 0);
  assert.match(stdout, /Usage: fakegpu status-updater \[flags\][^]*--reservation-namespace/);
  assert.match(stdout, /Usage: fakegpu dcgm-exporter \[flags\][^]*--collectors/);
});

Deno.test("dra-plugin and device-plugin --node-scope this-node need the node's name", async () => {
  for (const role of ["dra-plugin", "device-plugin"]) {
    const { code, stderr } = await fakegpu(role, "--node-scope", "this-node");
    assert.equal(code, 2, role);
    assert.match(stderr, /--node-name: required with --node-scope this-node \(or set NODE_NAME\)/);
  }
});

Deno.test("a role's --help lists its flags with their environment variables", async () => {
  const { code, stdout } = await fakegpu("status-updater", "--help");
  assert.equal(code, 0);
  assert.match(
    stdout,
    /--topology-configmap <value>.*\(default topology\) \[env FAKEGPU_TOPOLOGY_CONFIGMAP\]/,
  );
  assert.match(stdout, /--leader-elect /);
});

Deno.test("an invalid topology file stops a role with one plain line naming the field, exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/topology.yaml`;
    await Deno.writeTextFile(
      file,
      "nodePools:\n  a100:\n    gpuProduct: NVIDIA-A100-SXM4-80GB\n    gpuCount: eight\n",
    );
    const { code, stderr } = await fakegpu("local-fleet", "--bin-dir", dir, "--topology", file);
    assert.equal(code, 2);
    assert.equal(
      stderr.trim(),
      `fakegpu local-fleet: Invalid topology config: ${file}:4: nodePools.a100.gpuCount: expected a positive integer, got "eight"`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dcgm-exporter stops at start-up on a bad counters file, naming the file and line, exit code 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/counters.csv`;
    await Deno.writeTextFile(
      file,
      "# mine\nDCGM_FI_DEV_GPU_UTIL, gauge, ok\nDCGM_FI_DEV_GPU_UTILISATION, gauge, typo\n",
    );
    const short = await fakegpu("dcgm-exporter", "-f", file);
    assert.equal(short.code, 2);
    assert.match(
      short.stderr,
      new RegExp(`--collectors: ${file}:3: unknown DCGM field "DCGM_FI_DEV_GPU_UTILISATION"`),
    );
    const missing = await fakegpu("dcgm-exporter", "--collectors", `${dir}/nope.csv`);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--collectors: cannot read .*nope\.csv/);
    const scope = await fakegpu("dcgm-exporter", "--node-scope", "this-node");
    assert.equal(scope.code, 2);
    assert.match(scope.stderr, /--node-name: is required with --node-scope this-node/);
    const address = await fakegpu("dcgm-exporter", "-a", "9400");
    assert.equal(address.code, 2);
    assert.match(address.stderr, /--address: expected "\[host\]:port"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
