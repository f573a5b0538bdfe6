/**
 * A list+watch cache of one collection that recovers from every failure it can observe.
 *
 * 1. LIST (paged), diff against the store, emit the changes, then `synced`.
 * 2. WATCH from the list's resource version with bookmarks, applying events to the store in order.
 * 3. When the watch ends (server timeout, reset, error, or no event or bookmark for `inactivityTimeoutMs`),
 *    watch again from the last resource version seen. A 410 Gone (HTTP or `ERROR` event), or three failures in
 *    a row, trigger a relist instead, which emits upserts for changed objects, deletes for vanished ones and
 *    `synced` again.
 * 4. Consecutive failures (errors, or watches that end without delivering anything) back off exponentially
 *    from 0.5 s to 30 s with jitter. A watch restarted by the inactivity watchdog is retried at once: the
 *    watchdog already waited.
 *
 * `onChange` is awaited for every change in order, so handlers may be async; the store already holds the new
 * state when a handler runs. Each watch runs on its own connection, which the inactivity watchdog aborts, so a
 * frozen or reset connection never hangs the reflector.
 *
 * @module
 */

import { log } from "../log.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import { KubeApiError, type KubeClient, type KubeObject } from "./client.ts";

const RECONNECT_BACKOFF = { initialMs: 500, maxMs: 30_000, jitter: 0.5 };
const RELIST_AFTER_FAILURES = 3;

/** A change to the store; `synced` follows every (re)list. */
export type ReflectorChange<T> =
  | { type: "upsert"; key: string; object: T; previous?: T }
  | { type: "delete"; key: string; object: T }
  | { type: "synced" };

/** Options of {@link startReflector}. */
export interface ReflectorOptions<T> {
  /** Collection path, e.g. `/api/v1/nodes` or `/api/v1/namespaces/ns/configmaps`. */
  path: string;
  /** Label selector of the list and watch. */
  labelSelector?: string;
  /** Field selector of the list and watch. */
  fieldSelector?: string;
  /** Stops the reflector. */
  signal: AbortSignal;
  /** Called for every change, one at a time; errors are logged and do not stop the reflector. */
  onChange?: (change: ReflectorChange<T>) => void | Promise<void>;
  /**
   * Restart the watch from the last resource version when no event or bookmark arrived for this long.
   *
   * @default {90000}
   */
  inactivityTimeoutMs?: number;
  /**
   * Server-side timeout of each watch request.
   *
   * @default {300}
   */
  watchTimeoutSeconds?: number;
  /** Name used in logs; defaults to the path. */
  name?: string;
  /**
   * Trims each object before it is stored and handed to `onChange` (keep `metadata.name`, `namespace`
   * and `resourceVersion`), so a large collection costs only the fields the caller reads.
   */
  transform?: (object: T) => T;
}

/** A running reflector. */
export interface Reflector<T> {
  /** Objects by {@link objectKey}. */
  readonly store: ReadonlyMap<string, T>;
  /** Whether the first list has been applied. */
  hasSynced(): boolean;
  /** Resolves after the first list has been applied; rejects if the reflector stops before. */
  readonly synced: Promise<void>;
  /** Resolves once the reflector has stopped after its signal aborted. */
  readonly stopped: Promise<void>;
}

/**
 * The store key of an object: `namespace/name`, or `name` for cluster-scoped objects.
 *
 * @param object A Kubernetes object.
 * @returns The key.
 */
export function objectKey(object: KubeObject): string {
  const name = object.metadata?.name ?? "";
  const namespace = object.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

/**
 * Whether two versions of an object (as a reflector's `transform` trimmed them) differ only in
 * `metadata.resourceVersion` and the top-level fields in `ignore`: an update a handler can skip. Compared
 * as JSON values (a key whose value is `undefined` counts as absent), walking both objects without encoding
 * them: this runs for every watch event.
 *
 * @param a One version.
 * @param b The other version.
 * @param ignore Top-level fields left out of the comparison, e.g. `["status"]`.
 * @returns Whether nothing else differs.
 */
export function sameApartFromVersion(a: KubeObject, b: KubeObject, ignore: string[] = []): boolean {
  return sameFields(a.metadata ?? {}, b.metadata ?? {}, VERSION_FIELD) &&
    sameFields(a, b, new Set(["metadata", ...ignore]));
}

const VERSION_FIELD: ReadonlySet<string> = new Set(["resourceVersion"]);

/** Whether two JSON values are equal; `undefined` object members count as absent. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameJson(item, b[i]));
  }
  return sameFields(a as Record<string, unknown>, b as Record<string, unknown>);
}

/** Whether two objects have the same members apart from the keys in `skip`. */
function sameFields(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
  skip?: ReadonlySet<string>,
): boolean {
  let members = 0;
  for (const key in a) {
    if (a[key] === undefined || skip?.has(key)) continue;
    if (!sameJson(a[key], b[key])) return false;
    members++;
  }
  for (const key in b) {
    if (b[key] !== undefined && !skip?.has(key)) members--;
  }
  return members === 0;
}

/**
 * Computes the changes that turn `store` into the freshly listed `items`: upserts for new objects and objects
 * whose resource version changed, deletes (with the last known state) for objects that are gone.
 *
 * @param store The current store.
 * @param items The listed objects.
 * @returns The changes, upserts first in list order, then deletes.
 */
export function diffRelist<T extends KubeObject>(
  store: ReadonlyMap<string, T>,
  items: T[],
): ReflectorChange<T>[] {
  const changes: ReflectorChange<T>[] = [];
  const listed = new Set<string>();
  for (const object of items) {
    const key = objectKey(object);
    listed.add(key);
    const previous = store.get(key);
    if (previous !== undefined && previous.metadata?.resourceVersion === object.metadata?.resourceVersion) {
      continue;
    }
    changes.push(
      previous === undefined ? { type: "upsert", key, object } : { type: "upsert", key, object, previous },
    );
  }
  for (const [key, object] of store) {
    if (!listed.has(key)) changes.push({ type: "delete", key, object });
  }
  return changes;
}

/** Why a watch stopped. */
type WatchEnd = "timeout" | "inactive" | "gone";

class ReflectorRunner<T extends KubeObject> implements Reflector<T> {
  readonly store = new Map<string, T>();
  readonly synced: Promise<void>;
  readonly stopped: Promise<void>;
  #client: KubeClient;
  #options: ReflectorOptions<T>;
  #name: string;
  #hasSynced = false;
  #resolveSynced!: () => void;
  #rejectSynced!: (reason: unknown) => void;
  #resourceVersion = "";
  #receivedEvent = false;

  constructor(client: KubeClient, options: ReflectorOptions<T>) {
    this.#client = client;
    this.#options = options;
    this.#name = options.name ?? options.path;
    this.synced = new Promise<void>((resolve, reject) => {
      this.#resolveSynced = resolve;
      this.#rejectSynced = reject;
    });
    this.synced.catch(() => {});
    this.stopped = this.#run();
  }

  hasSynced(): boolean {
    return this.#hasSynced;
  }

  async #emit(change: ReflectorChange<T>): Promise<void> {
    if (!this.#options.onChange) return;
    try {
      await this.#options.onChange(change);
    } catch (error) {
      log.error("reflector change handler failed", { reflector: this.#name, change: change.type, error });
    }
  }

  async #relist(): Promise<void> {
    const { items, resourceVersion } = await this.#client.list<T>(this.#options.path, {
      labelSelector: this.#options.labelSelector,
      fieldSelector: this.#options.fieldSelector,
      signal: this.#options.signal,
    });
    const transform = this.#options.transform;
    const changes = diffRelist(this.store, transform ? items.map(transform) : items);
    log.debug("reflector listed", {
      reflector: this.#name,
      resourceVersion,
      items: items.length,
      changes: changes.length,
    });
    for (const change of changes) {
      if (change.type === "upsert") this.store.set(change.key, change.object);
      else if (change.type === "delete") this.store.delete(change.key);
      await this.#emit(change);
    }
    this.#resourceVersion = resourceVersion;
    this.#hasSynced = true;
    await this.#emit({ type: "synced" });
    this.#resolveSynced();
  }

  async #apply(type: "ADDED" | "MODIFIED" | "DELETED", raw: T): Promise<void> {
    const object = this.#options.transform ? this.#options.transform(raw) : raw;
    const key = objectKey(object);
    if (type === "DELETED") {
      this.store.delete(key);
      await this.#emit({ type: "delete", key, object });
      return;
    }
    const previous = this.store.get(key);
    this.store.set(key, object);
    await this.#emit(
      previous === undefined ? { type: "upsert", key, object } : { type: "upsert", key, object, previous },
    );
  }

  /** Runs one watch until it ends; throws on stream errors and non-410 HTTP errors. */
  async #watch(): Promise<WatchEnd> {
    const inactivityMs = this.#options.inactivityTimeoutMs ?? 90_000;
    const watchdog = new AbortController();
    let timer = setTimeout(() => watchdog.abort(), inactivityMs);
    const signal = AbortSignal.any([this.#options.signal, watchdog.signal]);
    try {
      const events = this.#client.watch<T>(this.#options.path, {
        resourceVersion: this.#resourceVersion,
        labelSelector: this.#options.labelSelector,
        fieldSelector: this.#options.fieldSelector,
        timeoutSeconds: this.#options.watchTimeoutSeconds ?? 300,
        signal,
      });
      for await (const event of events) {
        clearTimeout(timer);
        if (event.type === "ERROR") {
          if (event.status.code === 410) return "gone";
          const { code, reason, message } = event.status;
          throw new Error(`Watch of ${this.#options.path} failed: ERROR event ${code} ${reason}: ${message}`);
        }
        this.#receivedEvent = true;
        if (event.type !== "BOOKMARK") await this.#apply(event.type, event.object);
        this.#resourceVersion = event.object.metadata?.resourceVersion || this.#resourceVersion;
        timer = setTimeout(() => watchdog.abort(), inactivityMs);
      }
      return "timeout";
    } catch (error) {
      if (watchdog.signal.aborted && !this.#options.signal.aborted) return "inactive";
      if (error instanceof KubeApiError && error.status === 410) return "gone";
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(): Promise<void> {
    const signal = this.#options.signal;
    let needsList = true;
    let failures = 0;
    while (!signal.aborted) {
      let failure: string | undefined;
      this.#receivedEvent = false;
      try {
        if (needsList) {
          await this.#relist();
          needsList = false;
        }
        log.debug("reflector watching", { reflector: this.#name, resourceVersion: this.#resourceVersion });
        const end = await this.#watch();
        if (end === "gone") {
          log.debug("reflector resource version expired", {
            reflector: this.#name,
            resourceVersion: this.#resourceVersion,
          });
          needsList = true;
        }
        if (end === "inactive") {
          log.debug("reflector watch inactive, restarting", {
            reflector: this.#name,
            resourceVersion: this.#resourceVersion,
          });
        } else if (!this.#receivedEvent) {
          failure = end === "gone" ? "watch expired before any event" : "watch ended without events";
        }
      } catch (error) {
        if (signal.aborted) break;
        failure = error instanceof Error ? error.message : String(error);
      }
      if (this.#receivedEvent) failures = 0;
      if (failure === undefined) continue;
      failures++;
      if (failures >= RELIST_AFTER_FAILURES) needsList = true;
      const delay = backoffDelay(failures, RECONNECT_BACKOFF);
      log.debug("reflector reconnecting", {
        reflector: this.#name,
        resourceVersion: this.#resourceVersion,
        failures,
        delayMs: Math.round(delay),
        relist: needsList,
        reason: failure,
      });
      await sleep(delay, signal);
    }
    if (!this.#hasSynced) {
      this.#rejectSynced(new Error(`Reflector ${this.#name} stopped before its first list`));
    }
    log.debug("reflector stopped", { reflector: this.#name });
  }
}

/**
 * Starts a reflector: lists and watches `options.path` until `options.signal` aborts.
 *
 * @param client The API client.
 * @param options The collection, selectors, change handler and timeouts.
 * @returns The reflector with its store and `synced`/`stopped` promises.
 */
export function startReflector<T extends KubeObject>(
  client: KubeClient,
  options: ReflectorOptions<T>,
): Reflector<T> {
  return new ReflectorRunner<T>(client, options);
}
