import assert from "node:assert/strict";
import type { KubeClient, KubeObject, ListResult, WatchEvent, WatchOptions } from "./client.ts";
import {
  diffRelist,
  objectKey,
  type ReflectorChange,
  sameApartFromVersion,
  startReflector,
} from "./reflector.ts";

function obj(name: string, resourceVersion: string, namespace?: string): KubeObject {
  return { metadata: { name, namespace, resourceVersion } };
}

Deno.test("objectKey() uses namespace/name for namespaced objects", () => {
  assert.equal(objectKey(obj("cm", "1", "ns")), "ns/cm");
});

Deno.test("objectKey() uses the name for cluster-scoped objects", () => {
  assert.equal(objectKey(obj("node-a", "1")), "node-a");
});

Deno.test("diffRelist() upserts everything into an empty store", () => {
  const items = [obj("a", "1"), obj("b", "2")];
  assert.deepEqual(diffRelist(new Map(), items), [
    { type: "upsert", key: "a", object: items[0] },
    { type: "upsert", key: "b", object: items[1] },
  ]);
});

Deno.test("diffRelist() skips unchanged objects and reports changed and vanished ones", () => {
  const store = new Map([["a", obj("a", "1")], ["b", obj("b", "2")], ["c", obj("c", "3")]]);
  const items = [obj("a", "1"), obj("b", "5"), obj("d", "6")];
  assert.deepEqual(diffRelist(store, items), [
    { type: "upsert", key: "b", object: items[1], previous: store.get("b") },
    { type: "upsert", key: "d", object: items[2] },
    { type: "delete", key: "c", object: store.get("c") },
  ]);
});

Deno.test("diffRelist() returns nothing when the store matches", () => {
  const store = new Map([["ns/a", obj("a", "1", "ns")]]);
  assert.deepEqual(diffRelist(store, [obj("a", "1", "ns")]), []);
});

type ConfigMap = KubeObject & { data?: Record<string, string> };
type WatchScript = (options: WatchOptions) => AsyncIterable<WatchEvent<ConfigMap>>;

/** A scripted stand-in for the API: each list and watch call takes the next script. */
class ScriptedClient {
  lists: (() => ListResult<ConfigMap>)[] = [];
  watches: WatchScript[] = [];
  watchedFrom: string[] = [];

  list<T>(): Promise<ListResult<T>> {
    const next = this.lists.shift();
    if (!next) return Promise.reject(new Error("unexpected list"));
    return Promise.resolve(next() as unknown as ListResult<T>);
  }

  watch<T>(_path: string, options: WatchOptions): AsyncIterable<WatchEvent<T>> {
    this.watchedFrom.push(options.resourceVersion);
    const next = this.watches.shift() ?? hang;
    return next(options) as unknown as AsyncIterable<WatchEvent<T>>;
  }
}

function cm(name: string, resourceVersion: string): ConfigMap {
  return { metadata: { name, namespace: "ns", resourceVersion } };
}

/** A watch that stays silent until aborted, like a frozen connection. */
function hang(options: WatchOptions): AsyncIterable<WatchEvent<ConfigMap>> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        new Promise((_, reject) => {
          options.signal.addEventListener("abort", () => reject(options.signal.reason), { once: true });
        }),
    }),
  };
}

function events(...list: WatchEvent<ConfigMap>[]): WatchScript {
  return async function* (options) {
    yield* list;
    yield* hang(options);
  };
}

function describe(change: ReflectorChange<ConfigMap>): string {
  if (change.type === "synced") return "synced";
  const rv = change.object.metadata?.resourceVersion;
  return `${change.type} ${change.key}@${rv}${
    change.type === "upsert" && change.previous
      ? " (was " + change.previous.metadata?.resourceVersion + ")"
      : ""
  }`;
}

function run(client: ScriptedClient, options: { inactivityTimeoutMs?: number } = {}) {
  const controller = new AbortController();
  const changes: string[] = [];
  const reflector = startReflector<ConfigMap>(client as unknown as KubeClient, {
    path: "/api/v1/namespaces/ns/configmaps",
    signal: controller.signal,
    inactivityTimeoutMs: options.inactivityTimeoutMs,
    onChange: (change) => {
      changes.push(describe(change));
    },
  });
  return { reflector, changes, stop: () => controller.abort() };
}

Deno.test("startReflector() relists after a 410 ERROR event and emits only the difference", async () => {
  const client = new ScriptedClient();
  client.lists.push(() => ({ items: [cm("a", "1"), cm("b", "2")], resourceVersion: "10" }));
  client.watches.push(events(
    { type: "MODIFIED", object: cm("a", "11") },
    { type: "ERROR", status: { code: 410, reason: "Expired", message: "too old resource version" } },
  ));
  client.lists.push(() => ({ items: [cm("a", "11"), cm("c", "12")], resourceVersion: "12" }));
  const { reflector, changes, stop } = run(client);
  await waitUntil(() => client.watchedFrom.length === 2);
  stop();
  await reflector.stopped;
  assert.deepEqual(changes, [
    "upsert ns/a@1",
    "upsert ns/b@2",
    "synced",
    "upsert ns/a@11 (was 1)",
    "upsert ns/c@12",
    "delete ns/b@2",
    "synced",
  ]);
  assert.deepEqual(client.watchedFrom, ["10", "12"]);
  assert.deepEqual([...reflector.store.keys()], ["ns/a", "ns/c"]);
});

Deno.test("startReflector() rewatches from the last resource version after a stream error", async () => {
  const client = new ScriptedClient();
  client.lists.push(() => ({ items: [cm("a", "1")], resourceVersion: "5" }));
  client.watches.push(async function* () {
    yield { type: "MODIFIED", object: cm("a", "6") };
    yield { type: "BOOKMARK", object: cm("", "8") };
    throw new TypeError("error reading a body from connection");
  });
  client.watches.push(events({ type: "DELETED", object: cm("a", "9") }));
  const { reflector, changes, stop } = run(client);
  await waitUntil(() => changes.includes("delete ns/a@9"));
  stop();
  await reflector.stopped;
  assert.deepEqual(client.watchedFrom, ["5", "8"]);
  assert.deepEqual(changes, ["upsert ns/a@1", "synced", "upsert ns/a@6 (was 1)", "delete ns/a@9"]);
});

Deno.test("startReflector() restarts a silent watch from the same resource version", async () => {
  const client = new ScriptedClient();
  client.lists.push(() => ({ items: [], resourceVersion: "3" }));
  client.watches.push(hang, events({ type: "ADDED", object: cm("late", "4") }));
  const { reflector, changes, stop } = run(client, { inactivityTimeoutMs: 100 });
  await waitUntil(() => changes.includes("upsert ns/late@4"));
  stop();
  await reflector.stopped;
  assert.deepEqual(client.watchedFrom.slice(0, 2), ["3", "3"]);
});

Deno.test("startReflector() keeps going when a change handler throws", async () => {
  const client = new ScriptedClient();
  client.lists.push(() => ({ items: [cm("a", "1")], resourceVersion: "1" }));
  client.watches.push(events({ type: "ADDED", object: cm("b", "2") }));
  const controller = new AbortController();
  const seen: string[] = [];
  const reflector = startReflector<ConfigMap>(client as unknown as KubeClient, {
    path: "/x",
    signal: controller.signal,
    onChange: (change) => {
      seen.push(change.type);
      if (change.type === "upsert") throw new Error("handler bug");
    },
  });
  await waitUntil(() => reflector.store.has("ns/b"));
  controller.abort();
  await reflector.stopped;
  assert.deepEqual(seen, ["upsert", "synced", "upsert"]);
});

Deno.test("startReflector() rejects synced when stopped before the first list", async () => {
  const client = new ScriptedClient();
  const { reflector, stop } = run(client);
  await new Promise((resolve) => setTimeout(resolve, 20));
  stop();
  await reflector.stopped;
  assert.equal(reflector.hasSynced(), false);
  await assert.rejects(reflector.synced, /stopped before its first list/);
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("sameApartFromVersion() ignores the version, absent members and key order, and sees nested changes", () => {
  const a = {
    metadata: { name: "n", resourceVersion: "1", labels: { x: "1", y: "2" } },
    spec: { list: [1, { z: 2 }] },
  };
  const reordered = {
    spec: { list: [1, { z: 2 }], gone: undefined },
    metadata: { labels: { y: "2", x: "1" }, resourceVersion: "2", name: "n" },
  };
  assert.equal(sameApartFromVersion(a, reordered), true);
  assert.equal(sameApartFromVersion(a, { ...a, spec: { list: [1, { z: 3 }] } }), false);
  assert.equal(sameApartFromVersion(a, { ...a, spec: { list: [1] } }), false);
  assert.equal(sameApartFromVersion(a, { ...a, metadata: { ...a.metadata, labels: { x: "1" } } }), false);
  assert.equal(sameApartFromVersion(a, { ...a, status: { phase: "Ready" } }), false);
  assert.equal(sameApartFromVersion(a, { ...a, status: { phase: "Ready" } }, ["status"]), true);
});
