/**
 * fakegpu's Kubernetes API client: raw API paths, JSON bodies, Deno's fetch underneath.
 *
 * `@kubernetes/client-node` is only used (through {@link loadKubeAccess}) to parse kubeconfig entries and run
 * exec credential plugins: its 2.x watches hang on Deno after a connection reset (undici bodies never error),
 * and its main entry costs about 70 MB of RSS.
 *
 * - Client-side rate limiting: a token bucket (`qps`/`burst`, default 50/100) in front of every request.
 * - Retries with backoff: network errors, timeouts, 429 and 5xx for idempotent verbs (GET, PUT, PATCH, DELETE);
 *   only 429 and connection failures for POST. 409 Conflict is never retried.
 * - Every request has a timeout (default 30 s), so a silently dead connection cannot hang a caller.
 * - Watches stream newline-delimited JSON on a dedicated connection; a reset or an abort ends the iteration
 *   with an error at once.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./client.ts";
 * const client = await connect();
 * const node = await client.get<{ metadata: { name: string } }>("/api/v1/nodes/kwok-a100-0");
 * client.close();
 * ```
 *
 * @module
 */

import { z } from "zod";
import { log } from "../log.ts";
import { backoffDelay, sleep } from "./backoff.ts";
import { jsonLines } from "./json_lines.ts";
import { type KubeAccess, type KubeCredentials, loadKubeAccess } from "./kubeconfig.ts";
import { TokenBucket } from "./token_bucket.ts";
import { Transport } from "./transport.ts";

const MAX_ATTEMPTS = 4;
const RETRY_BACKOFF = { initialMs: 250, maxMs: 4000, jitter: 0.5 };
const MAX_RETRY_AFTER_MS = 10_000;
const DEFAULT_PAGE_SIZE = 500;
const DEFAULT_WATCH_TIMEOUT_SECONDS = 300;
const METADATA_OBJECT_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** Any Kubernetes object, as JSON. */
export interface KubeObject {
  /** API group and version, e.g. `v1` or `coordination.k8s.io/v1`. */
  apiVersion?: string;
  /** Kind, e.g. `Node`. */
  kind?: string;
  /** Object metadata. */
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: unknown[];
    [key: string]: unknown;
  };
  /** Any other field (`spec`, `status`, `data`, ...). */
  [key: string]: unknown;
}

/** The `metav1.Status` the API server returns with errors. */
interface StatusBody {
  kind?: string;
  reason?: string;
  message?: string;
  code?: number;
}

function isStatusBody(body: unknown): body is StatusBody {
  return typeof body === "object" && body !== null && (body as StatusBody).kind === "Status";
}

/**
 * An HTTP error from the API server. `message` reads like `GET /api/v1/nodes/x: 404 NotFound: nodes "x" not
 * found`; `status` is the HTTP status (409 for conflicts), `reason` the Status reason, `body` the parsed body.
 */
export class KubeApiError extends Error {
  /** HTTP status code. */
  readonly status: number;
  /** `Status.reason`, e.g. `NotFound`, `Conflict`, `AlreadyExists`, `Expired`. */
  readonly reason?: string;
  /** The response body: the parsed JSON when it was JSON, else the text. */
  readonly body?: unknown;

  /**
   * Builds the error of a failed request.
   *
   * @param method HTTP method of the failed request.
   * @param path API path of the failed request (without query).
   * @param status HTTP status code.
   * @param body The response body, parsed when it was JSON.
   */
  constructor(method: string, path: string, status: number, body?: unknown) {
    const status_ = isStatusBody(body) ? body : undefined;
    const detail = status_?.message ?? (typeof body === "string" && body ? body.slice(0, 300) : "no details");
    super(`${method} ${path}: ${status}${status_?.reason ? ` ${status_.reason}` : ""}: ${detail}`);
    this.name = "KubeApiError";
    this.status = status;
    this.reason = status_?.reason;
    this.body = body;
  }
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Kubeconfig path; wins over `$KUBECONFIG`, in-cluster settings and `~/.kube/config`. */
  kubeconfig?: string;
  /** Kubeconfig context instead of `current-context`. */
  context?: string;
  /**
   * Sustained requests per second.
   *
   * @default {50}
   */
  qps?: number;
  /**
   * Requests allowed at once after an idle period.
   *
   * @default {100}
   */
  burst?: number;
  /**
   * `User-Agent` header.
   *
   * @default {"fakegpu"}
   */
  userAgent?: string;
  /**
   * Timeout of one non-watch request, including reading its body, in milliseconds.
   *
   * @default {30000}
   */
  requestTimeoutMs?: number;
}

/** Options every non-watch request accepts. */
export interface RequestOptions {
  /** Aborts the request (and its retries). */
  signal?: AbortSignal;
}

/** Options of {@link KubeClient.list}. */
export interface ListOptions extends RequestOptions {
  /** Label selector, e.g. `nvidia.com/gpu.present=true`. */
  labelSelector?: string;
  /** Field selector, e.g. `spec.nodeName=n1`. */
  fieldSelector?: string;
  /**
   * Page size; every `continue` page is fetched.
   *
   * @default {500}
   */
  limit?: number;
}

/** Options of {@link KubeClient.mergePatch}. */
export interface MergePatchOptions extends RequestOptions {
  /** Field manager recorded in `managedFields`. */
  fieldManager?: string;
}

/** Options of {@link KubeClient.apply}. */
export interface ApplyOptions extends RequestOptions {
  /** Field manager that owns the applied fields. */
  fieldManager: string;
  /** Takes over fields owned by other managers instead of failing with 409. */
  force?: boolean;
  /**
   * Asks for the applied object's metadata only (`PartialObjectMetadata`), for a caller that reads no more
   * than its resource version: the server then neither encodes nor sends a ConfigMap's data or a Node's
   * status back.
   */
  metadataOnly?: boolean;
}

/** Options of {@link KubeClient.watch}. */
export interface WatchOptions {
  /** Resource version to start after (from a list or the last event). */
  resourceVersion: string;
  /** Label selector. */
  labelSelector?: string;
  /** Field selector. */
  fieldSelector?: string;
  /**
   * Server-side duration of the watch; the stream then ends cleanly.
   *
   * @default {300}
   */
  timeoutSeconds?: number;
  /** Ends the watch; the iteration then throws the abort reason. */
  signal: AbortSignal;
}

/** A page-merged list: all items and the list's resource version. */
export interface ListResult<T> {
  /** Every item of every page. */
  items: T[];
  /** The resource version to start a watch from. */
  resourceVersion: string;
}

/** One watch event; `ERROR` carries the `Status` (code 410 means the resource version is too old). */
export type WatchEvent<T> =
  | { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; object: T }
  | { type: "ERROR"; status: { code?: number; reason?: string; message?: string } };

/** A connection to one API server. Paths are raw API paths such as `/api/v1/nodes/n1/status`. */
export interface KubeClient extends Disposable {
  /** The API server URL. */
  readonly server: string;
  /** The namespace of the kubeconfig context (`default` when unset). */
  readonly namespace: string;
  /** GETs an object; `undefined` when it does not exist. */
  get<T>(path: string, options?: RequestOptions): Promise<T | undefined>;
  /** Lists a collection, following `continue` pages. */
  list<T>(path: string, options?: ListOptions): Promise<ListResult<T>>;
  /** POSTs `body` to the collection at `path`. */
  create<T>(path: string, body: unknown, options?: RequestOptions): Promise<T>;
  /** PUTs `body` (optimistic concurrency through `metadata.resourceVersion`; 409 on conflict). */
  replace<T>(path: string, body: unknown, options?: RequestOptions): Promise<T>;
  /** PATCHes with a JSON merge patch (`null` deletes a key). */
  mergePatch<T>(path: string, patch: unknown, options?: MergePatchOptions): Promise<T>;
  /** Server-side apply (`application/apply-patch+yaml` with a JSON body). */
  apply<T>(path: string, body: unknown, options: ApplyOptions): Promise<T>;
  /** DELETEs an object; `false` when it did not exist. */
  delete(path: string, options?: RequestOptions): Promise<boolean>;
  /** Opens a watch; iterate it to receive events. Throws on HTTP errors (e.g. 410) and broken streams. */
  watch<T>(path: string, options: WatchOptions): AsyncIterable<WatchEvent<T>>;
  /** Aborts in-flight requests and releases connections. */
  close(): void;
}

type RetryPolicy = "idempotent" | "create";

interface SendInit {
  query?: URLSearchParams;
  body?: unknown;
  contentType?: string;
  accept?: string;
  retry: RetryPolicy;
  signal?: AbortSignal;
}

function isConnectError(error: unknown): boolean {
  const text = `${error}${error instanceof Error && error.cause ? ` ${error.cause}` : ""}`;
  return /\(Connect\)|ECONNREFUSED|Connection refused/i.test(text);
}

function shouldRetryStatus(status: number, retry: RetryPolicy): boolean {
  return status === 429 || (retry === "idempotent" && status >= 500 && status !== 501);
}

function retryAfterMs(response: Response): number {
  const seconds = Number(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : 0;
}

function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function queryString(query?: URLSearchParams): string {
  const text = query?.toString() ?? "";
  return text ? `?${text}` : "";
}

function selectorQuery(options: { labelSelector?: string; fieldSelector?: string }): URLSearchParams {
  const query = new URLSearchParams();
  if (options.labelSelector) query.set("labelSelector", options.labelSelector);
  if (options.fieldSelector) query.set("fieldSelector", options.fieldSelector);
  return query;
}

/** One page of a list response. */
interface ListPage<T> {
  apiVersion?: string;
  kind?: string;
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** List items come without `apiVersion`/`kind`; fill them in from the list so objects can be re-applied. */
function typedItems<T>(page: ListPage<T>): T[] {
  const items = page.items ?? [];
  const kind = page.kind?.endsWith("List") ? page.kind.slice(0, -4) : undefined;
  for (const item of items as KubeObject[]) {
    if (item && typeof item === "object") {
      item.apiVersion ??= page.apiVersion;
      if (kind) item.kind ??= kind;
    }
  }
  return items;
}

class HttpKubeClient implements KubeClient {
  readonly server: string;
  readonly namespace: string;
  #access: KubeAccess;
  #transport: Transport;
  #limiter: TokenBucket;
  #userAgent: string;
  #timeoutMs: number;
  #closed = new AbortController();

  constructor(
    access: KubeAccess,
    transport: Transport,
    options: Required<Omit<ConnectOptions, "kubeconfig" | "context">>,
  ) {
    this.server = access.server;
    this.namespace = access.namespace;
    this.#access = access;
    this.#transport = transport;
    this.#limiter = new TokenBucket(options.qps, options.burst);
    this.#userAgent = options.userAgent;
    this.#timeoutMs = options.requestTimeoutMs;
  }

  #headers(credentials: KubeCredentials, contentType?: string, accept = "application/json"): Headers {
    const headers = new Headers({ Accept: accept, "User-Agent": this.#userAgent });
    for (const [name, value] of Object.entries(credentials.headers)) headers.set(name, value);
    if (contentType) headers.set("Content-Type", contentType);
    return headers;
  }

  #checkOpen(signal?: AbortSignal): void {
    signal?.throwIfAborted();
    if (this.#closed.signal.aborted) {
      throw new Error(`Cannot use Kubernetes client for ${this.server}: it is closed`);
    }
  }

  #describeFailure(error: unknown): string {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      return `no response within ${this.#timeoutMs} ms`;
    }
    return error instanceof Error ? error.message : String(error);
  }

  /** One attempt: returns the response status and parsed body, or throws a network/timeout/abort error. */
  async #attempt(
    method: string,
    path: string,
    init: SendInit,
  ): Promise<{ response: Response; body: unknown }> {
    const credentials = await this.#access.credentials();
    const signal = AbortSignal.any([
      this.#closed.signal,
      AbortSignal.timeout(this.#timeoutMs),
      ...(init.signal ? [init.signal] : []),
    ]);
    const response = await fetch(`${this.#transport.baseUrl}${path}${queryString(init.query)}`, {
      method,
      headers: this.#headers(credentials, init.contentType, init.accept),
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      client: this.#transport.sharedClient(credentials),
      signal,
    });
    return { response, body: parseBody(await response.text()) };
  }

  async #send(method: string, path: string, init: SendInit): Promise<unknown> {
    let refreshedCredentials = false;
    for (let attempt = 1;; attempt++) {
      this.#checkOpen(init.signal);
      await this.#limiter.take(init.signal);
      this.#checkOpen(init.signal);
      let outcome: { response: Response; body: unknown };
      try {
        outcome = await this.#attempt(method, path, init);
      } catch (error) {
        this.#checkOpen(init.signal);
        const retryable = init.retry === "idempotent" || isConnectError(error);
        if (!retryable || attempt >= MAX_ATTEMPTS) {
          throw new Error(`${method} ${path}: ${this.#describeFailure(error)}`, { cause: error });
        }
        log.debug("kube request failed, retrying", { method, path, attempt, error });
        await sleep(backoffDelay(attempt, RETRY_BACKOFF), init.signal);
        continue;
      }
      const { response, body } = outcome;
      if (response.ok) return body;
      if (response.status === 401 && this.#access.refreshableCredentials && !refreshedCredentials) {
        refreshedCredentials = true;
        this.#access.invalidateCredentials();
        continue;
      }
      if (shouldRetryStatus(response.status, init.retry) && attempt < MAX_ATTEMPTS) {
        log.debug("kube request rejected, retrying", { method, path, attempt, status: response.status });
        await sleep(Math.max(retryAfterMs(response), backoffDelay(attempt, RETRY_BACKOFF)), init.signal);
        continue;
      }
      throw new KubeApiError(method, path, response.status, body);
    }
  }

  async get<T>(path: string, options: RequestOptions = {}): Promise<T | undefined> {
    try {
      return await this.#send("GET", path, { retry: "idempotent", signal: options.signal }) as T;
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  async list<T>(path: string, options: ListOptions = {}): Promise<ListResult<T>> {
    let pageSize = options.limit ?? DEFAULT_PAGE_SIZE;
    let items: T[] = [];
    let resourceVersion: string;
    let next: string | undefined;
    for (;;) {
      const query = selectorQuery(options);
      if (pageSize > 0) query.set("limit", String(pageSize));
      if (next) query.set("continue", next);
      let page: ListPage<T>;
      try {
        page = await this.#send("GET", path, {
          query,
          retry: "idempotent",
          signal: options.signal,
        }) as ListPage<T>;
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 410 && next)) throw error;
        log.debug("kube list continue token expired, listing without pages", { path });
        [pageSize, items, next] = [0, [], undefined];
        continue;
      }
      items = items.concat(typedItems(page));
      resourceVersion = page.metadata?.resourceVersion ?? "";
      next = page.metadata?.continue || undefined;
      if (!next) return { items, resourceVersion };
    }
  }

  async create<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return await this.#send("POST", path, {
      body,
      contentType: "application/json",
      retry: "create",
      signal: options.signal,
    }) as T;
  }

  async replace<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return await this.#send("PUT", path, {
      body,
      contentType: "application/json",
      retry: "idempotent",
      signal: options.signal,
    }) as T;
  }

  async mergePatch<T>(path: string, patch: unknown, options: MergePatchOptions = {}): Promise<T> {
    const query = new URLSearchParams();
    if (options.fieldManager) query.set("fieldManager", options.fieldManager);
    return await this.#send("PATCH", path, {
      query,
      body: patch,
      contentType: "application/merge-patch+json",
      retry: "idempotent",
      signal: options.signal,
    }) as T;
  }

  async apply<T>(path: string, body: unknown, options: ApplyOptions): Promise<T> {
    const query = new URLSearchParams({ fieldManager: options.fieldManager });
    if (options.force) query.set("force", "true");
    return await this.#send("PATCH", path, {
      query,
      body,
      contentType: "application/apply-patch+yaml",
      accept: options.metadataOnly ? METADATA_OBJECT_ACCEPT : undefined,
      retry: "idempotent",
      signal: options.signal,
    }) as T;
  }

  async delete(path: string, options: RequestOptions = {}): Promise<boolean> {
    try {
      await this.#send("DELETE", path, { retry: "idempotent", signal: options.signal });
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return false;
      throw error;
    }
  }

  async *watch<T>(path: string, options: WatchOptions): AsyncGenerator<WatchEvent<T>> {
    this.#checkOpen(options.signal);
    await this.#limiter.take(options.signal);
    this.#checkOpen(options.signal);
    const query = selectorQuery(options);
    query.set("watch", "true");
    query.set("resourceVersion", options.resourceVersion);
    query.set("allowWatchBookmarks", "true");
    query.set("timeoutSeconds", String(options.timeoutSeconds ?? DEFAULT_WATCH_TIMEOUT_SECONDS));
    const url = `${path}${queryString(query)}`;
    log.debug("kube watch", { request: `GET ${url}` });
    const credentials = await this.#access.credentials();
    const client = this.#transport.dedicatedClient(credentials);
    const headersTimeout = new AbortController();
    const timer = setTimeout(
      () => headersTimeout.abort(new Error(`GET ${path}: no response headers within ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    const ended = new AbortController();
    const signal = AbortSignal.any([
      this.#closed.signal,
      options.signal,
      headersTimeout.signal,
      ended.signal,
    ]);
    try {
      const response = await fetch(`${this.#transport.baseUrl}${url}`, {
        headers: this.#headers(credentials),
        client,
        signal,
      });
      clearTimeout(timer);
      if (!response.ok || !response.body) {
        if (response.status === 401 && this.#access.refreshableCredentials) {
          this.#access.invalidateCredentials();
        }
        throw new KubeApiError("GET", path, response.status, parseBody(await response.text()));
      }
      for await (const line of jsonLines(response.body)) {
        const event = JSON.parse(line) as { type: string; object: unknown };
        yield (event.type === "ERROR"
          ? { type: "ERROR", status: event.object as StatusBody }
          : { type: event.type, object: event.object }) as WatchEvent<T>;
      }
    } finally {
      clearTimeout(timer);
      ended.abort();
      client.close();
    }
  }

  close(): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort(new Error(`Kubernetes client for ${this.server} was closed`));
    this.#transport.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const connectOptionsSchema = z.object({
  kubeconfig: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  qps: z.number().positive().default(50),
  burst: z.number().int().min(1).default(100),
  userAgent: z.string().min(1).default("fakegpu"),
  requestTimeoutMs: z.number().int().positive().default(30_000),
});

/**
 * Connects to the API server chosen by the kubeconfig rules: `options.kubeconfig` > `$KUBECONFIG` >
 * in-cluster service account > `~/.kube/config`. No request is made until the first call.
 *
 * @param options Kubeconfig, context, rate limits and timeouts.
 * @returns The client; call {@link KubeClient.close} (or use `using`) when done.
 */
export async function connect(options: ConnectOptions = {}): Promise<KubeClient> {
  const parsed = connectOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`Cannot connect to Kubernetes: ${issue.path.join(".")}: ${issue.message}`);
  }
  const access = await loadKubeAccess({ kubeconfig: parsed.data.kubeconfig, context: parsed.data.context });
  const transport = await Transport.create(access);
  log.debug("kube client ready", { server: access.server, source: access.source, context: access.context });
  return new HttpKubeClient(access, transport, parsed.data);
}
