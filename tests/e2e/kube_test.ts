/**
 * fakegpu's Kubernetes access layer against a real control plane: CRUD, server-side apply, merge patch on
 * nodes/status, events, watches, the reflector (including recovery through a loopback proxy that resets or
 * freezes connections) and leader election.
 */

import assert from "node:assert/strict";
import net from "node:net";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import {
  connect,
  KubeApiError,
  type KubeClient,
  type KubeObject,
} from "../../components/core/kube/client.ts";
import { emitEvent } from "../../components/core/kube/events.ts";
import { type Lease, runLeaderElection } from "../../components/core/kube/lease.ts";
import {
  type Reflector,
  type ReflectorChange,
  startReflector,
} from "../../components/core/kube/reflector.ts";

const NAMESPACE = "kube-e2e";
const CONFIGMAPS = `/api/v1/namespaces/${NAMESPACE}/configmaps`;

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

interface Node extends KubeObject {
  status?: { capacity?: Record<string, string>; allocatable?: Record<string, string> };
}

/** A loopback TCP proxy whose current connections can be reset (RST) or frozen (no bytes forwarded). */
class CuttableProxy {
  readonly port: number;
  #server: net.Server;
  #pairs = new Set<{ client: net.Socket; upstream: net.Socket; frozen: boolean }>();

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static start(targetPort: number): Promise<CuttableProxy> {
    return new Promise((resolve) => {
      const pairs = new Set<{ client: net.Socket; upstream: net.Socket; frozen: boolean }>();
      const server = net.createServer((client) => {
        const upstream = net.connect(targetPort, "127.0.0.1");
        const pair = { client, upstream, frozen: false };
        pairs.add(pair);
        const forward = (from: net.Socket, to: net.Socket) => {
          from.on("data", (chunk) => {
            if (!pair.frozen) to.write(chunk);
          });
          from.on("error", () => to.destroy());
          from.on("close", () => {
            pairs.delete(pair);
            if (!pair.frozen) to.destroy();
          });
        };
        forward(client, upstream);
        forward(upstream, client);
      });
      server.listen(0, "127.0.0.1", () => {
        const proxy = new CuttableProxy(server, (server.address() as net.AddressInfo).port);
        proxy.#pairs = pairs;
        resolve(proxy);
      });
    });
  }

  /** Sends RST on both sides of every current connection. */
  resetAll(): number {
    const count = this.#pairs.size;
    for (const pair of this.#pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    this.#pairs.clear();
    return count;
  }

  /** Stops forwarding on every current connection and keeps them open; new connections still work. */
  freezeAll(): number {
    for (const pair of this.#pairs) {
      pair.frozen = true;
      pair.client.pause();
      pair.upstream.pause();
    }
    return this.#pairs.size;
  }

  close(): void {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#server.close();
  }
}

type Mode = "direct TLS" | "TLS bridge";

/**
 * Writes a copy of the cluster's kubeconfig with `server` replaced. `direct TLS` verifies with the cluster CA
 * through Deno's TLS; `TLS bridge` keeps kwokctl's `insecure-skip-tls-verify: true`.
 */
async function writeKubeconfig(
  cluster: TestCluster,
  dir: string,
  server: string,
  mode: Mode,
): Promise<string> {
  const doc = parseYaml(await Deno.readTextFile(cluster.kubeconfigPath)) as {
    clusters: { cluster: Record<string, unknown> }[];
    users: { user: Record<string, unknown> }[];
  };
  for (const entry of doc.users) {
    for (const field of ["client-certificate", "client-key"]) {
      const value = entry.user[field];
      if (typeof value === "string" && !value.startsWith("/")) {
        entry.user[field] = `${cluster.clusterDir}/${value}`;
      }
    }
  }
  for (const entry of doc.clusters) {
    entry.cluster.server = server;
    if (mode === "direct TLS") {
      delete entry.cluster["insecure-skip-tls-verify"];
      entry.cluster["certificate-authority"] = `${cluster.clusterDir}/pki/ca.crt`;
    } else {
      delete entry.cluster["certificate-authority"];
      delete entry.cluster["certificate-authority-data"];
      entry.cluster["insecure-skip-tls-verify"] = true;
    }
  }
  const path = `${dir}/${mode.replace(" ", "-")}-${new URL(server).port}.yaml`;
  await Deno.writeTextFile(path, stringifyYaml(doc));
  return path;
}

function configMap(
  name: string,
  data: Record<string, string>,
  labels: Record<string, string> = {},
): ConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: NAMESPACE, labels }, data };
}

/** Starts a reflector on labelled configmaps that records every change. */
function recordConfigMaps(
  client: KubeClient,
  label: string,
  signal: AbortSignal,
  inactivityTimeoutMs?: number,
) {
  const changes: ReflectorChange<ConfigMap>[] = [];
  const reflector = startReflector<ConfigMap>(client, {
    path: CONFIGMAPS,
    labelSelector: `test=${label}`,
    signal,
    inactivityTimeoutMs,
    name: label,
    onChange: (change) => {
      changes.push(change);
    },
  });
  return { reflector, changes };
}

Deno.test({
  name: "kube client, reflector and leader election work against a real control plane",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using cluster = await startTestCluster();
    const dir = await Deno.makeTempDir({ prefix: "kube-e2e-" });
    const direct = await connect({
      kubeconfig: await writeKubeconfig(cluster, dir, cluster.server, "direct TLS"),
    });
    using _closeDirect = direct;
    await direct.create("/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: NAMESPACE },
    });

    await t.step(
      "connect() reads kwokctl's own kubeconfig (insecure-skip-tls-verify, file certificates)",
      async () => {
        using client = await connect({ kubeconfig: cluster.kubeconfigPath });
        const ns = await client.get<KubeObject>(`/api/v1/namespaces/${NAMESPACE}`);
        assert.equal(ns?.metadata?.name, NAMESPACE);
      },
    );

    await t.step("get, create, replace, list and delete configmaps", async () => {
      const created = await direct.create<ConfigMap>(
        CONFIGMAPS,
        configMap("crud", { a: "1" }, { test: "crud" }),
      );
      assert.equal(created.data?.a, "1");
      assert.equal((await direct.get<ConfigMap>(`${CONFIGMAPS}/crud`))?.data?.a, "1");
      assert.equal(await direct.get(`${CONFIGMAPS}/missing`), undefined);
      const replaced = await direct.replace<ConfigMap>(`${CONFIGMAPS}/crud`, {
        ...created,
        data: { a: "2" },
      });
      assert.equal(replaced.data?.a, "2");
      await assert.rejects(
        () => direct.replace(`${CONFIGMAPS}/crud`, { ...created, data: { a: "3" } }),
        (error) => {
          assert.ok(error instanceof KubeApiError);
          assert.equal(error.status, 409);
          assert.equal(error.reason, "Conflict");
          assert.match(
            error.message,
            /^PUT \/api\/v1\/namespaces\/kube-e2e\/configmaps\/crud: 409 Conflict: /,
          );
          return true;
        },
      );
      await assert.rejects(
        () => direct.create(CONFIGMAPS, configMap("crud", {})),
        (error) => error instanceof KubeApiError && error.status === 409 && error.reason === "AlreadyExists",
      );
      for (const name of ["page-1", "page-2", "page-3"]) {
        await direct.create(CONFIGMAPS, configMap(name, {}, { test: "paging" }));
      }
      const listed = await direct.list<ConfigMap>(CONFIGMAPS, { labelSelector: "test=paging", limit: 1 });
      assert.deepEqual(listed.items.map((cm) => cm.metadata?.name).sort(), ["page-1", "page-2", "page-3"]);
      assert.equal(listed.items[0].kind, "ConfigMap");
      assert.match(listed.resourceVersion, /^\d+$/);
      assert.equal(await direct.delete(`${CONFIGMAPS}/crud`), true);
      assert.equal(await direct.delete(`${CONFIGMAPS}/crud`), false);
    });

    await t.step("server-side apply and merge patch on nodes/status", async () => {
      const node = {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "kube-e2e-node", labels: { a: "1" } },
      };
      const applied = await direct.apply<Node>("/api/v1/nodes/kube-e2e-node", node, {
        fieldManager: "fakegpu-e2e",
      });
      assert.equal(applied.metadata?.labels?.a, "1");
      await assert.rejects(
        () =>
          direct.apply("/api/v1/nodes/kube-e2e-node", {
            ...node,
            metadata: { ...node.metadata, labels: { a: "2" } },
          }, {
            fieldManager: "someone-else",
          }),
        (error) => error instanceof KubeApiError && error.status === 409,
      );
      const forced = await direct.apply<Node>(
        "/api/v1/nodes/kube-e2e-node",
        { ...node, metadata: { ...node.metadata, labels: { a: "2" } } },
        { fieldManager: "someone-else", force: true },
      );
      assert.equal(forced.metadata?.labels?.a, "2");
      const metadataOnly = await direct.apply<Node>(
        "/api/v1/nodes/kube-e2e-node",
        { ...node, metadata: { ...node.metadata, labels: { a: "3" } } },
        { fieldManager: "someone-else", force: true, metadataOnly: true },
      );
      assert.equal(metadataOnly.kind, "PartialObjectMetadata");
      assert.equal(metadataOnly.metadata?.labels?.a, "3");
      assert.ok(metadataOnly.metadata?.resourceVersion);
      const gpus = { "nvidia.com/gpu": "8" };
      const patched = await direct.mergePatch<Node>(
        "/api/v1/nodes/kube-e2e-node/status",
        { status: { capacity: gpus, allocatable: gpus } },
        { fieldManager: "fakegpu-e2e" },
      );
      assert.equal(patched.status?.capacity?.["nvidia.com/gpu"], "8");
      const read = await direct.get<Node>("/api/v1/nodes/kube-e2e-node");
      assert.equal(read?.status?.allocatable?.["nvidia.com/gpu"], "8");
      await direct.mergePatch("/api/v1/nodes/kube-e2e-node/status", {
        status: { capacity: { "nvidia.com/gpu": null } },
      });
      const removed = await direct.get<Node>("/api/v1/nodes/kube-e2e-node");
      assert.equal(removed?.status?.capacity?.["nvidia.com/gpu"], undefined);
    });

    await t.step("emitEvent() records a core/v1 Event and never throws", async () => {
      const node = await direct.get<Node>("/api/v1/nodes/kube-e2e-node");
      await emitEvent(direct, {
        namespace: "default",
        involved: { kind: "Node", name: "kube-e2e-node", uid: node?.metadata?.uid, apiVersion: "v1" },
        reason: "GpuAdvertised",
        message: "advertised 8 GPUs",
        component: "fakegpu-e2e",
      });
      const events = await direct.list<KubeObject & { reason?: string }>(
        "/api/v1/namespaces/default/events",
        {
          fieldSelector: "involvedObject.name=kube-e2e-node",
        },
      );
      assert.ok(events.items.some((e) => e.reason === "GpuAdvertised"));
      await emitEvent(direct, {
        namespace: "no-such-namespace",
        involved: { kind: "Node", name: "x" },
        reason: "Nope",
        message: "namespace does not exist",
        component: "fakegpu-e2e",
      });
    });

    await t.step("watch() streams events and ends when aborted", async () => {
      const controller = new AbortController();
      const { resourceVersion } = await direct.list<ConfigMap>(CONFIGMAPS, { labelSelector: "test=watch" });
      const seen: string[] = [];
      const watching = (async () => {
        for await (
          const event of direct.watch<ConfigMap>(CONFIGMAPS, {
            resourceVersion,
            labelSelector: "test=watch",
            signal: controller.signal,
          })
        ) {
          if (event.type === "ADDED") seen.push(event.object.metadata?.name ?? "");
        }
      })();
      await direct.create(CONFIGMAPS, configMap("watched", {}, { test: "watch" }));
      await waitFor("ADDED event", () => Promise.resolve(seen.includes("watched")), { timeoutMs: 10_000 });
      controller.abort();
      await assert.rejects(watching);
    });

    await t.step("reflector sees adds, updates and deletes", async () => {
      const controller = new AbortController();
      await direct.create(CONFIGMAPS, configMap("pre-existing", { v: "0" }, { test: "reflect" }));
      const { reflector, changes } = recordConfigMaps(direct, "reflect", controller.signal);
      await reflector.synced;
      assert.ok(reflector.hasSynced());
      assert.deepEqual(changes.map((c) => c.type), ["upsert", "synced"]);
      await direct.create(CONFIGMAPS, configMap("added", { v: "1" }, { test: "reflect" }));
      await direct.mergePatch(`${CONFIGMAPS}/added`, { data: { v: "2" } });
      await direct.delete(`${CONFIGMAPS}/pre-existing`);
      await waitFor("add, update and delete", () =>
        Promise.resolve(
          reflector.store.get(`${NAMESPACE}/added`)?.data?.v === "2" &&
            !reflector.store.has(`${NAMESPACE}/pre-existing`),
        ), { timeoutMs: 10_000 });
      const update = changes.find((c) => c.type === "upsert" && c.key === `${NAMESPACE}/added` && c.previous);
      assert.ok(update?.type === "upsert" && update.previous?.data?.v === "1");
      assert.ok(changes.some((c) => c.type === "delete" && c.key === `${NAMESPACE}/pre-existing`));
      controller.abort();
      await reflector.stopped;
    });

    /** Runs `fn` with a ConfigMap reflector whose client reaches the apiserver through a cuttable proxy. */
    async function throughProxy(
      mode: "direct TLS" | "TLS bridge",
      prefix: string,
      inactivityTimeoutMs: number | undefined,
      fn: (proxy: CuttableProxy, reflector: Reflector<ConfigMap>, label: string) => Promise<void>,
    ): Promise<void> {
      const proxy = await CuttableProxy.start(Number(new URL(cluster.server).port));
      try {
        const server = `https://127.0.0.1:${proxy.port}`;
        using client = await connect({ kubeconfig: await writeKubeconfig(cluster, dir, server, mode) });
        const label = `${prefix}-${mode === "direct TLS" ? "direct" : "bridge"}`;
        const controller = new AbortController();
        const { reflector } = recordConfigMaps(client, label, controller.signal, inactivityTimeoutMs);
        await reflector.synced;
        await fn(proxy, reflector, label);
        controller.abort();
        await reflector.stopped;
      } finally {
        proxy.close();
      }
    }

    for (const mode of ["direct TLS", "TLS bridge"] as const) {
      await t.step(`reflector recovers after every connection is reset (${mode})`, async () => {
        await throughProxy(mode, "reset", undefined, async (proxy, reflector, label) => {
          for (let round = 1; round <= 3; round++) {
            const name = `${label}-${round}`;
            await direct.create(CONFIGMAPS, configMap(name, { round: String(round) }, { test: label }));
            await waitFor(
              `${name} before the reset`,
              () => Promise.resolve(reflector.store.has(`${NAMESPACE}/${name}`)),
              {
                timeoutMs: 10_000,
              },
            );
            assert.ok(proxy.resetAll() > 0, "expected open connections to reset");
            await direct.mergePatch(`${CONFIGMAPS}/${name}`, { data: { round: `${round}-after-reset` } });
            const started = performance.now();
            await waitFor(
              `${name} update after the reset`,
              () =>
                Promise.resolve(
                  reflector.store.get(`${NAMESPACE}/${name}`)?.data?.round === `${round}-after-reset`,
                ),
              {
                timeoutMs: 10_000,
                intervalMs: 50,
              },
            );
            console.error(
              `  ${mode}: round ${round} recovered in ${Math.round(performance.now() - started)} ms`,
            );
          }
        });
      });

      await t.step(
        `reflector recovers from frozen connections via its inactivity watchdog (${mode})`,
        async () => {
          await throughProxy(mode, "freeze", 2000, async (proxy, reflector, label) => {
            await direct.create(CONFIGMAPS, configMap(label, { v: "before" }, { test: label }));
            await waitFor(
              `${label} before the freeze`,
              () => Promise.resolve(reflector.store.has(`${NAMESPACE}/${label}`)),
              {
                timeoutMs: 10_000,
              },
            );
            assert.ok(proxy.freezeAll() > 0, "expected open connections to freeze");
            await direct.mergePatch(`${CONFIGMAPS}/${label}`, { data: { v: "after" } });
            const started = performance.now();
            await waitFor(
              `${label} update after the freeze`,
              () => Promise.resolve(reflector.store.get(`${NAMESPACE}/${label}`)?.data?.v === "after"),
              {
                timeoutMs: 15_000,
                intervalMs: 50,
              },
            );
            console.error(
              `  ${mode}: recovered from freeze in ${Math.round(performance.now() - started)} ms`,
            );
          });
        },
      );
    }

    await t.step("leader election: exactly one leader, the other takes over after it stops", async () => {
      const leaseName = "kube-e2e-election";
      const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${leaseName}`;
      const leading = new Map<string, AbortSignal>();
      const stopped: string[] = [];
      const candidates = ["alpha", "beta"].map((identity) => {
        const controller = new AbortController();
        const done = runLeaderElection(direct, {
          namespace: NAMESPACE,
          name: leaseName,
          identity,
          leaseDurationSeconds: 3,
          renewDeadlineSeconds: 2,
          retryPeriodSeconds: 0.5,
          signal: controller.signal,
          onStartedLeading: (signal) => {
            leading.set(identity, signal);
          },
          onStoppedLeading: () => stopped.push(identity),
        });
        return { identity, controller, done };
      });
      const first = await waitFor("a leader", () => Promise.resolve([...leading.keys()][0]), {
        timeoutMs: 15_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.deepEqual([...leading.keys()], [first], "exactly one candidate must lead");
      const lease = await direct.get<Lease>(leasePath);
      assert.equal(lease?.spec?.holderIdentity, first);
      assert.match(lease?.spec?.renewTime ?? "", /\.\d{6}Z$/);
      const transitionsBefore = lease?.spec?.leaseTransitions ?? 0;

      const leader = candidates.find((c) => c.identity === first)!;
      const other = candidates.find((c) => c.identity !== first)!;
      const handedOver = performance.now();
      leader.controller.abort();
      await leader.done;
      assert.equal(leading.get(first)?.aborted, true);
      assert.deepEqual(stopped, [first]);
      await waitFor("the other candidate to lead", () => Promise.resolve(leading.has(other.identity)), {
        timeoutMs: 10_000,
        intervalMs: 50,
      });
      console.error(`  takeover after release in ${Math.round(performance.now() - handedOver)} ms`);
      const after = await direct.get<Lease>(leasePath);
      assert.equal(after?.spec?.holderIdentity, other.identity);
      assert.equal(after?.spec?.leaseTransitions, transitionsBefore + 1);
      other.controller.abort();
      await other.done;
    });

    await t.step(
      "leader election: a leader that vanishes without releasing is replaced after expiry",
      async () => {
        const leaseName = "kube-e2e-expiry";
        const leading: string[] = [];
        const start = (identity: string, signal: AbortSignal) =>
          runLeaderElection(direct, {
            namespace: NAMESPACE,
            name: leaseName,
            identity,
            leaseDurationSeconds: 3,
            renewDeadlineSeconds: 2,
            retryPeriodSeconds: 0.5,
            releaseOnCancel: false,
            signal,
            onStartedLeading: () => {
              leading.push(identity);
            },
          });
        const first = new AbortController();
        const firstDone = start("gamma", first.signal);
        await waitFor("gamma to lead", () => Promise.resolve(leading.includes("gamma")), {
          timeoutMs: 10_000,
        });
        first.abort();
        await firstDone;
        const second = new AbortController();
        const gone = performance.now();
        const secondDone = start("delta", second.signal);
        await waitFor("delta to lead", () => Promise.resolve(leading.includes("delta")), {
          timeoutMs: 15_000,
        });
        const waited = performance.now() - gone;
        assert.ok(waited >= 2500, `delta must wait for the lease to expire, took ${Math.round(waited)} ms`);
        second.abort();
        await secondDone;
      },
    );

    await direct.delete(`/api/v1/namespaces/${NAMESPACE}`);
    await direct.delete("/api/v1/nodes/kube-e2e-node");
    await Deno.remove(dir, { recursive: true });
  },
});
