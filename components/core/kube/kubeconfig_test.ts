import assert from "node:assert/strict";
import { stringify } from "yaml";
import { chooseKubeconfigSource, loadKubeAccess } from "./kubeconfig.ts";

const CA = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kubeconfig-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function kubeconfig(overrides: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    "current-context": "main",
    clusters: [{
      name: "c1",
      cluster: { server: "https://127.0.0.1:6443/", "certificate-authority": "pki/ca.crt" },
    }],
    users: [{ name: "u1", user: { token: "secret-token", as: "someone" } }],
    contexts: [
      { name: "main", context: { cluster: "c1", user: "u1", namespace: "team" } },
      { name: "anon", context: { cluster: "c1" } },
    ],
    ...overrides,
  });
}

Deno.test("chooseKubeconfigSource() prefers the explicit path", () => {
  const env = {
    kubeconfigVar: "/a:/b",
    serviceHost: "10.0.0.1",
    serviceAccountTokenExists: true,
    home: "/root",
  };
  assert.deepEqual(chooseKubeconfigSource("/x", env), { kind: "files", paths: ["/x"], required: true });
});

Deno.test("chooseKubeconfigSource() uses $KUBECONFIG before in-cluster settings", () => {
  const env = {
    kubeconfigVar: "/a::/b",
    serviceHost: "10.0.0.1",
    serviceAccountTokenExists: true,
    home: "/root",
  };
  assert.deepEqual(chooseKubeconfigSource(undefined, env), {
    kind: "files",
    paths: ["/a", "/b"],
    required: false,
  });
});

Deno.test("chooseKubeconfigSource() uses in-cluster settings before ~/.kube/config", () => {
  const env = { serviceHost: "10.0.0.1", serviceAccountTokenExists: true, home: "/root" };
  assert.deepEqual(chooseKubeconfigSource(undefined, env), { kind: "in-cluster" });
  assert.deepEqual(chooseKubeconfigSource(undefined, { ...env, serviceAccountTokenExists: false }), {
    kind: "files",
    paths: ["/root/.kube/config"],
    required: true,
  });
});

Deno.test("loadKubeAccess() resolves relative files, token, impersonation and namespace", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/pki`);
    await Deno.writeTextFile(`${dir}/pki/ca.crt`, CA);
    await Deno.writeTextFile(`${dir}/config`, kubeconfig());
    const access = await loadKubeAccess({ kubeconfig: `${dir}/config` });
    assert.equal(access.server, "https://127.0.0.1:6443");
    assert.deepEqual(access.caCerts, [CA]);
    assert.equal(access.namespace, "team");
    assert.equal(access.insecureSkipTlsVerify, false);
    assert.deepEqual(await access.credentials(), {
      headers: { Authorization: "Bearer secret-token", "Impersonate-User": "someone" },
      cert: undefined,
      key: undefined,
    });
  });
});

Deno.test("loadKubeAccess() decodes inline certificate data and honours the context option", async () => {
  await withDir(async (dir) => {
    const clusters = [{
      name: "c1",
      cluster: {
        server: "https://h:1",
        "certificate-authority-data": btoa(CA),
        "insecure-skip-tls-verify": true,
      },
    }];
    const users = [{
      name: "u1",
      user: { "client-certificate-data": btoa("CERT"), "client-key-data": btoa("KEY") },
    }];
    const contexts = [{ name: "other", context: { cluster: "c1", user: "u1" } }];
    await Deno.writeTextFile(`${dir}/config`, kubeconfig({ clusters, users, contexts }));
    const access = await loadKubeAccess({ kubeconfig: `${dir}/config`, context: "other" });
    assert.deepEqual(access.caCerts, [CA]);
    assert.equal(access.insecureSkipTlsVerify, true);
    assert.equal(access.namespace, "default");
    assert.deepEqual(await access.credentials(), { headers: {}, cert: "CERT", key: "KEY" });
  });
});

Deno.test("loadKubeAccess() re-reads a token file after invalidation", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/token`, "one\n");
    const users = [{ name: "u1", user: { "token-file": "token" } }];
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig({ users, clusters: [{ name: "c1", cluster: { server: "https://h:1" } }] }),
    );
    const access = await loadKubeAccess({ kubeconfig: `${dir}/config` });
    assert.equal((await access.credentials()).headers.Authorization, "Bearer one");
    await Deno.writeTextFile(`${dir}/token`, "two\n");
    access.invalidateCredentials();
    assert.equal((await access.credentials()).headers.Authorization, "Bearer two");
  });
});

Deno.test("loadKubeAccess() names a missing context", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/config`, kubeconfig());
    await assert.rejects(
      () => loadKubeAccess({ kubeconfig: `${dir}/config`, context: "nope" }),
      /Cannot find context "nope" in kubeconfig/,
    );
  });
});

Deno.test("loadKubeAccess() names a missing explicit file", async () => {
  await assert.rejects(() => loadKubeAccess({ kubeconfig: "/nonexistent/kubeconfig" }), /file not found/);
});

Deno.test("loadKubeAccess() names the invalid field of a kubeconfig", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/config`, kubeconfig({ clusters: [{ name: "c1", cluster: {} }] }));
    await assert.rejects(
      () => loadKubeAccess({ kubeconfig: `${dir}/config` }),
      /Cannot parse kubeconfig ".*": clusters\.0\.cluster\.server: /,
    );
  });
});
