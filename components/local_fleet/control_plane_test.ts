import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import {
  CONTROL_PLANE_BINARIES,
  formatKwokctlLine,
  isComponentCommandLine,
  isProcessAlive,
  kwokctlConfigYaml,
  kwokctlCreateArgs,
  kwokctlEnv,
  portOf,
  readComponentPids,
  serverFromKubeconfig,
  startControlPlane,
  statShowsAlive,
  summarizeReadyz,
  tailComponentLogs,
  validateControlPlaneOptions,
  verifiedKubeconfig,
} from "./control_plane.ts";

const BASE = {
  binDir: "/opt/bin",
  name: "fakegpu-t",
  prometheusPort: 0,
  prometheusBinary: "/usr/bin/prometheus",
  readyTimeoutMs: 120_000,
};
const FILES = { config: "/w/c.yaml", mergedKubeconfig: "/w/k.yaml" };

function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

Deno.test("validateControlPlaneOptions() applies defaults and a unique name", () => {
  const a = validateControlPlaneOptions({ binDir: "/opt/bin" });
  const b = validateControlPlaneOptions({ binDir: "/opt/bin" });
  assert.match(a.name, /^fakegpu-[0-9a-f]{8}$/);
  assert.notEqual(a.name, b.name);
  assert.equal(a.workdir, undefined);
  assert.equal(a.prometheusPort, 0);
  assert.equal(a.prometheusBinary, "/usr/bin/prometheus");
  assert.equal(a.readyTimeoutMs, 120_000);
});

Deno.test("validateControlPlaneOptions() names the offending field and value", () => {
  assert.throws(
    () => validateControlPlaneOptions({ binDir: "/b", name: "Bad_Name" }),
    /name: expected a lowercase DNS label such as fakegpu-dev, got "Bad_Name"/,
  );
  assert.throws(
    () => validateControlPlaneOptions({ binDir: "/b", prometheusPort: 70000 }),
    /prometheusPort: expected a port number from 0 to 65535, got 70000/,
  );
  assert.throws(() => validateControlPlaneOptions({}), /binDir: expected a directory path, got undefined/);
  assert.throws(
    () => validateControlPlaneOptions({ binDir: "/b", bindir: "/c" }),
    /unknown option\(s\) bindir/,
  );
});

Deno.test("kwokctlCreateArgs() passes every binary as a local path and the loopback config", () => {
  const args = kwokctlCreateArgs(BASE, FILES);
  assert.deepEqual(args.slice(0, 6), ["create", "cluster", "--name", "fakegpu-t", "--runtime", "binary"]);
  assert.equal(flagValue(args, "--config"), "/w/c.yaml");
  assert.equal(flagValue(args, "--kubeconfig"), "/w/k.yaml");
  assert.equal(flagValue(args, "--timeout"), "120000ms");
  assert.equal(flagValue(args, "--kube-apiserver-binary"), "/opt/bin/kube-apiserver");
  assert.equal(flagValue(args, "--kube-controller-manager-binary"), "/opt/bin/kube-controller-manager");
  assert.equal(flagValue(args, "--kube-scheduler-binary"), "/opt/bin/kube-scheduler");
  assert.equal(flagValue(args, "--etcd-binary"), "/opt/bin/etcd");
  assert.equal(flagValue(args, "--kwok-controller-binary"), "/opt/bin/kwok");
  assert.equal(args.includes("--prometheus-port"), false);
  assert.match(kwokctlConfigYaml(), /^options:\n {2}bindAddress: 127\.0\.0\.1$/m);
});

Deno.test("kwokctlConfigYaml() overrides kwok-controller's node Lease duration only when given", () => {
  assert.equal((parseYaml(kwokctlConfigYaml()) as Record<string, unknown>).componentsPatches, undefined);
  assert.deepEqual((parseYaml(kwokctlConfigYaml(10)) as Record<string, unknown>).componentsPatches, [{
    name: "kwok-controller",
    extraArgs: [{ key: "node-lease-duration-seconds", value: "10", override: true }],
  }]);
});

Deno.test("kwokctlConfigYaml() with kwokNodesOnly leaves nodes without the KWOK annotation to their kubelet", () => {
  assert.deepEqual(
    (parseYaml(kwokctlConfigYaml(undefined, true)) as Record<string, unknown>).componentsPatches,
    [{
      name: "kwok-controller",
      extraArgs: [
        { key: "manage-all-nodes", value: "false", override: true },
        { key: "manage-nodes-with-annotation-selector", value: "kwok.x-k8s.io/node=fake" },
      ],
    }],
  );
});

Deno.test("kwokctlCreateArgs() enables Prometheus only for a non-zero port", () => {
  const args = kwokctlCreateArgs({ ...BASE, prometheusPort: 19090 }, FILES);
  assert.equal(flagValue(args, "--prometheus-port"), "19090");
  assert.equal(flagValue(args, "--prometheus-binary"), "/usr/bin/prometheus");
});

Deno.test("kwokctlEnv() isolates the workdir and kubeconfig and puts binDir first on PATH", () => {
  assert.deepEqual(kwokctlEnv("/opt/bin", "/w", "/w/k.yaml", "/usr/bin"), {
    KWOK_WORKDIR: "/w",
    KUBECONFIG: "/w/k.yaml",
    PATH: "/opt/bin:/usr/bin",
  });
});

Deno.test("formatKwokctlLine() shortens kwokctl's JSON log lines", () => {
  const line = JSON.stringify({
    time: "2026-11-23T15:42:02Z",
    level: "INFO",
    msg: "Cluster is started",
    cluster: "c",
    elapsed: { nanosecond: 1618265402, human: "1.618265402s" },
  });
  assert.equal(formatKwokctlLine(line), "INFO Cluster is started (1.618265402s)");
  assert.equal(formatKwokctlLine("plain text"), "plain text");
});

Deno.test("summarizeReadyz() lists only the failing checks", () => {
  const answer = 'Error from server (InternalError): an error on the server ("[+]ping ok\\n[+]etcd ok\\n' +
    '[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\\n[+]shutdown ok\\nreadyz check failed")';
  assert.equal(summarizeReadyz(answer), "failing checks poststarthook/rbac/bootstrap-roles");
  assert.equal(
    summarizeReadyz("dial tcp 127.0.0.1:1: connect: refused\n"),
    "dial tcp 127.0.0.1:1: connect: refused",
  );
});

Deno.test("serverFromKubeconfig() reads the first cluster's server", () => {
  const text = "apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:32766\n  name: kwok\n";
  assert.equal(serverFromKubeconfig(text), "https://127.0.0.1:32766");
  assert.equal(portOf("https://127.0.0.1:32766"), 32766);
  assert.throws(
    () => serverFromKubeconfig("clusters: []\n"),
    /clusters\[0\]\.cluster\.server: expected a URL/,
  );
});

Deno.test("readComponentPids() and tailComponentLogs() read kwokctl's cluster directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await readComponentPids(dir), []);
    await Deno.mkdir(`${dir}/pids`);
    await Deno.mkdir(`${dir}/logs`);
    await Deno.writeTextFile(`${dir}/pids/etcd.pid`, "42\n");
    await Deno.writeTextFile(`${dir}/pids/kube-apiserver.pid`, "7");
    await Deno.writeTextFile(
      `${dir}/logs/etcd.log`,
      Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n"),
    );
    assert.deepEqual(await readComponentPids(dir), [7, 42]);
    const tail = await tailComponentLogs(dir, 2);
    assert.equal(tail, "--- etcd.log (last 2 lines) ---\nline 28\nline 29");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("statShowsAlive() counts a zombie leader with exiting threads as alive", () => {
  const stat = (state: string, threads: number) =>
    `28462 (kube-apiserver) ${state} 1 28462 28462 0 -1 4228108 57255 0 1 0 289 53 0 0 20 0 ${threads} 0 104914`;
  assert.equal(statShowsAlive(stat("S", 12)), true);
  assert.equal(statShowsAlive(stat("Z", 2)), true);
  assert.equal(statShowsAlive(stat("Z", 1)), false);
  assert.equal(statShowsAlive("7 (a) b) X 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1"), false);
});

Deno.test("isComponentCommandLine() matches the cluster's binaries, not processes naming its files", () => {
  const dir = "/tmp/kwok/clusters/c1";
  assert.equal(isComponentCommandLine(`${dir}/bin/etcd\0--name=node0\0`, dir), true);
  assert.equal(isComponentCommandLine(`${dir}/bin/kube-apiserver`, dir), true);
  const role = `/usr/bin/deno\0run\0main.ts\0status-updater\0--kubeconfig\0${dir}/kubeconfig-verified.yaml\0`;
  assert.equal(isComponentCommandLine(role, dir), false);
  assert.equal(isComponentCommandLine(`/tmp/kwok/clusters/c10/bin/etcd\0`, dir), false);
  assert.equal(isComponentCommandLine("", dir), false);
});

Deno.test("isProcessAlive() tells a running process from an exited one", async () => {
  assert.equal(await isProcessAlive(Deno.pid), true);
  const child = new Deno.Command("true").spawn();
  await child.status;
  assert.equal(await isProcessAlive(child.pid), false);
});

Deno.test("startControlPlane() refuses a bin dir without the binaries, naming the field", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      startControlPlane({ binDir: dir }),
      new RegExp(`binDir: ${dir}/kwokctl does not exist.*tests/cluster/setup\\.sh`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startControlPlane() refuses to reuse an existing cluster name in the workdir", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/bin`);
    for (const name of CONTROL_PLANE_BINARIES) {
      await Deno.writeTextFile(`${dir}/bin/${name}`, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    }
    await Deno.mkdir(`${dir}/work/clusters/taken`, { recursive: true });
    await assert.rejects(
      startControlPlane({ binDir: `${dir}/bin`, workdir: `${dir}/work`, name: "taken" }),
      /name: cluster "taken" already exists/,
    );
    assert.equal((await Deno.stat(`${dir}/work/clusters/taken`)).isDirectory, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verifiedKubeconfig() trusts the cluster CA instead of skipping verification", () => {
  const text = `apiVersion: v1
kind: Config
clusters:
  - name: kwok-x
    cluster:
      server: https://127.0.0.1:32766
      insecure-skip-tls-verify: true
users:
  - name: kwok-x
    user:
      client-certificate: pki/admin.crt
      client-key: /abs/admin.key
`;
  const out = parseYaml(verifiedKubeconfig(text, "/w/clusters/x")) as {
    clusters: { cluster: Record<string, unknown> }[];
    users: { user: Record<string, unknown> }[];
  };
  assert.deepEqual(out.clusters[0].cluster, {
    server: "https://127.0.0.1:32766",
    "certificate-authority": "/w/clusters/x/pki/ca.crt",
  });
  assert.deepEqual(out.users[0].user, {
    "client-certificate": "/w/clusters/x/pki/admin.crt",
    "client-key": "/abs/admin.key",
  });
});
