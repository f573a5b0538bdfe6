/**
 * Resolves how to reach the Kubernetes API server, in kubectl's order: an explicit kubeconfig path, then
 * `$KUBECONFIG` (a `:`-separated list, merged), then the in-cluster service account, then `~/.kube/config`.
 *
 * Kubeconfig files are read with `js-yaml` (every role loads it for the node state) and checked with zod;
 * `@kubernetes/client-node` is imported only for a user with an exec credential plugin, to run it: loading
 * its kubeconfig types cost every role about 9 MiB of RSS, and `yaml` another 10 MiB in roles without a
 * topology.
 *
 * Permissions: `--allow-read` (kubeconfig, certificate and token files), `--allow-env` (`KUBECONFIG`, `HOME`,
 * `KUBERNETES_SERVICE_*`), and `--allow-run` for exec credential plugins.
 *
 * @module
 */

import { dirname, isAbsolute, join } from "node:path";
import type { User as ExecUser } from "@kubernetes/client-node/dist/config_types.js";
import { load as parseYaml } from "js-yaml";
import { z } from "zod";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const TOKEN_FILE_REFRESH_MS = 60_000;

/** Authentication for one request: headers plus, when the user has one, a TLS client certificate. */
export interface KubeCredentials {
  /** Headers to send, e.g. `Authorization` and `Impersonate-User`. */
  headers: Record<string, string>;
  /** PEM client certificate chain. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
}

/** Everything needed to talk to one API server as one user. */
export interface KubeAccess {
  /** Where the settings came from: the kubeconfig path(s) or `in-cluster`. */
  source: string;
  /** Name of the selected context (`in-cluster` for the service account). */
  context: string;
  /** Base URL without trailing slash, e.g. `https://127.0.0.1:6443`. */
  server: string;
  /** PEM CA certificates to trust in addition to the system roots. */
  caCerts: string[];
  /** Name to verify the server certificate against instead of the server host (`tls-server-name`). */
  tlsServerName?: string;
  /** Whether server certificate verification is off (`insecure-skip-tls-verify`). */
  insecureSkipTlsVerify: boolean;
  /** HTTP(S) proxy from the cluster's `proxy-url`. */
  proxyUrl?: string;
  /** Namespace of the context, `default` when unset. */
  namespace: string;
  /** Whether {@link KubeAccess.invalidateCredentials} can fetch fresh credentials (exec plugins, token files). */
  refreshableCredentials: boolean;
  /** Returns the credentials for the next request, running the exec plugin or re-reading the token file when due. */
  credentials(): Promise<KubeCredentials>;
  /** Forgets cached credentials, e.g. after a 401, so the next call fetches new ones. */
  invalidateCredentials(): void;
}

/** Options of {@link loadKubeAccess}. */
export interface LoadKubeAccessOptions {
  /** Kubeconfig path; wins over `$KUBECONFIG` and in-cluster settings. */
  kubeconfig?: string;
  /** Context to use instead of the kubeconfig's `current-context`. */
  context?: string;
}

/** The environment {@link chooseKubeconfigSource} decides from. */
export interface KubeconfigEnvironment {
  /** `$KUBECONFIG`. */
  kubeconfigVar?: string;
  /** `$KUBERNETES_SERVICE_HOST`; in-cluster settings need it and the token file. */
  serviceHost?: string;
  /** Whether the service-account token file exists. */
  serviceAccountTokenExists: boolean;
  /** `$HOME`, for `~/.kube/config`. */
  home?: string;
}

/** Where to load settings from: kubeconfig files (merged, first wins) or the in-cluster service account. */
export type KubeconfigSource = { kind: "files"; paths: string[]; required: boolean } | { kind: "in-cluster" };

/**
 * Picks the settings source in kubectl's order: explicit path, `$KUBECONFIG`, in-cluster, `~/.kube/config`.
 *
 * @param kubeconfig The explicit path, if any.
 * @param env The environment to decide from.
 * @returns The source; `required` tells whether a missing file is an error.
 */
export function chooseKubeconfigSource(
  kubeconfig: string | undefined,
  env: KubeconfigEnvironment,
): KubeconfigSource {
  if (kubeconfig) return { kind: "files", paths: [kubeconfig], required: true };
  const listed = (env.kubeconfigVar ?? "").split(":").filter((p) => p !== "");
  if (listed.length > 0) return { kind: "files", paths: listed, required: false };
  if (env.serviceHost && env.serviceAccountTokenExists) return { kind: "in-cluster" };
  if (env.home) return { kind: "files", paths: [join(env.home, ".kube", "config")], required: true };
  throw new Error("Cannot find Kubernetes settings: no kubeconfig given, $KUBECONFIG and $HOME are unset");
}

const text = z.string().nullish();

const clusterSchema = z.looseObject({
  server: z.string().min(1),
  "certificate-authority": text,
  "certificate-authority-data": text,
  "insecure-skip-tls-verify": z.boolean().nullish(),
  "tls-server-name": text,
  "proxy-url": text,
});

const userSchema = z.looseObject({
  token: text,
  "token-file": text,
  "client-certificate": text,
  "client-certificate-data": text,
  "client-key": text,
  "client-key-data": text,
  username: text,
  password: text,
  as: text,
  exec: z.looseObject({ command: z.string().min(1) }).nullish(),
  "auth-provider": z.looseObject({ name: z.string(), config: z.record(z.string(), z.unknown()).nullish() })
    .nullish(),
});

const contextSchema = z.looseObject({ cluster: z.string().min(1), user: text, namespace: text });

const kubeconfigSchema = z.looseObject({
  clusters: z.array(z.looseObject({ name: z.string().min(1), cluster: clusterSchema })).nullish(),
  users: z.array(z.looseObject({ name: z.string().min(1), user: userSchema.nullish() })).nullish(),
  contexts: z.array(z.looseObject({ name: z.string().min(1), context: contextSchema })).nullish(),
  "current-context": text,
});

type KubeconfigDocument = z.infer<typeof kubeconfigSchema>;
type ClusterEntry = NonNullable<KubeconfigDocument["clusters"]>[number];
type UserEntry = NonNullable<KubeconfigDocument["users"]>[number];
type ContextEntry = NonNullable<KubeconfigDocument["contexts"]>[number];
type NamedEntry = { name: string; [key: string]: unknown };
type MergedKubeconfig = {
  clusters: ClusterEntry[];
  users: UserEntry[];
  contexts: ContextEntry[];
  "current-context": string;
};

const PATH_FIELDS = ["certificate-authority", "client-certificate", "client-key", "token-file"];

/** Makes the file paths inside one cluster/user entry absolute, relative to the kubeconfig's directory. */
function absolutizeEntry<T extends NamedEntry>(entry: T, section: "cluster" | "user", baseDir: string): T {
  const body = entry[section];
  if (!body || typeof body !== "object") return entry;
  const copy: Record<string, unknown> = { ...body as Record<string, unknown> };
  for (const field of PATH_FIELDS) {
    const value = copy[field];
    if (typeof value === "string" && value !== "" && !isAbsolute(value)) copy[field] = join(baseDir, value);
  }
  return { ...entry, [section]: copy };
}

/** Merges kubeconfig documents like kubectl: the first entry of a name and the first current-context win. */
function mergeKubeconfigs(docs: { path: string; doc: KubeconfigDocument }[]): MergedKubeconfig {
  const merged: MergedKubeconfig = { clusters: [], users: [], contexts: [], "current-context": "" };
  for (const { path, doc } of docs) {
    const baseDir = dirname(path);
    const add = <T extends NamedEntry>(list: T[], entries: T[] | null | undefined, fix: (e: T) => T) => {
      for (const entry of entries ?? []) {
        if (!list.some((e) => e.name === entry.name)) list.push(fix(entry));
      }
    };
    add(merged.clusters, doc.clusters, (e) => absolutizeEntry(e, "cluster", baseDir));
    add(merged.users, doc.users, (e) => absolutizeEntry(e, "user", baseDir));
    add(merged.contexts, doc.contexts, (e) => e);
    merged["current-context"] ||= doc["current-context"] ?? "";
  }
  return merged;
}

async function readKubeconfigFile(path: string): Promise<KubeconfigDocument> {
  const text = await Deno.readTextFile(path);
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new TypeError(
      `Cannot parse kubeconfig "${path}": ${error instanceof Error ? error.message : error}`,
    );
  }
  const parsed = kubeconfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TypeError(`Cannot parse kubeconfig "${path}": ${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function decodeBase64Text(data: string, field: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(data.replace(/\s+/g, "")), (c) => c.charCodeAt(0)));
  } catch {
    throw new TypeError(`Cannot decode ${field}: expected base64 data`);
  }
}

/** Reads PEM text from inline base64 data (wins) or a file. */
async function pemFrom(data: string | undefined | null, file: string | undefined | null, field: string) {
  if (data) return decodeBase64Text(data, `${field}-data`);
  if (file) return await Deno.readTextFile(file);
  return undefined;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** A token read from a file that is re-read every minute (rotated service-account tokens). */
function tokenFileReader(path: string): { read(): Promise<string>; invalidate(): void } {
  let cached: { token: string; at: number } | undefined;
  return {
    async read() {
      if (!cached || performance.now() - cached.at > TOKEN_FILE_REFRESH_MS) {
        cached = { token: (await Deno.readTextFile(path)).trim(), at: performance.now() };
      }
      return cached.token;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

interface CredentialSource {
  refreshable: boolean;
  credentials(): Promise<KubeCredentials>;
  invalidate(): void;
}

const NO_CREDENTIALS: CredentialSource = {
  refreshable: false,
  credentials: () => Promise.resolve({ headers: {} }),
  invalidate() {},
};

/** Builds the credential source of a kubeconfig user: client cert, token, token file, basic auth or exec plugin. */
async function userCredentials(entry: UserEntry | undefined): Promise<CredentialSource> {
  const user = entry?.user;
  if (!entry || !user) return NO_CREDENTIALS;
  const field = `users.${entry.name}.user`;
  const fixed: Record<string, string> = {};
  const cert = await pemFrom(
    user["client-certificate-data"],
    user["client-certificate"],
    `${field}.client-certificate`,
  );
  const key = await pemFrom(user["client-key-data"], user["client-key"], `${field}.client-key`);
  if (user.as) fixed["Impersonate-User"] = user.as;
  if (user.username) fixed.Authorization = `Basic ${btoa(`${user.username}:${user.password ?? ""}`)}`;
  const provider = user["auth-provider"];
  if (user.exec || provider?.name === "exec" || provider?.config?.exec) {
    // Loaded only for exec users: client-node's exec plugin runner costs about 12 MiB of RSS.
    const { ExecAuth } = await import("@kubernetes/client-node/dist/exec_auth.js");
    const execUser = { name: entry.name, exec: user.exec, authProvider: provider } as unknown as ExecUser;
    let execAuth = new ExecAuth();
    return {
      refreshable: true,
      async credentials() {
        const options: { headers: Record<string, string>; cert?: string; key?: string } = { headers: {} };
        await execAuth.applyAuthentication(execUser, options);
        return {
          headers: { ...fixed, ...options.headers },
          cert: options.cert ?? cert,
          key: options.key ?? key,
        };
      },
      invalidate() {
        execAuth = new ExecAuth();
      },
    };
  }
  if (provider) {
    throw new TypeError(
      `Cannot use ${field}.auth-provider "${provider.name}": only exec plugins are supported`,
    );
  }
  const tokenFile = user["token-file"] && !user.token ? tokenFileReader(user["token-file"]) : undefined;
  if (tokenFile) {
    return {
      refreshable: true,
      async credentials() {
        return { headers: { ...fixed, Authorization: `Bearer ${await tokenFile.read()}` }, cert, key };
      },
      invalidate: () => tokenFile.invalidate(),
    };
  }
  if (user.token) fixed.Authorization = `Bearer ${user.token.trim()}`;
  return {
    refreshable: false,
    credentials: () => Promise.resolve({ headers: fixed, cert, key }),
    invalidate() {},
  };
}

function findNamed<T extends { name: string }>(list: T[], name: string, what: string, source: string): T {
  const found = list.find((entry) => entry.name === name);
  if (!found) throw new Error(`Cannot find ${what} "${name}" in kubeconfig ${source}`);
  return found;
}

async function fromKubeconfigFiles(paths: string[], contextName: string | undefined): Promise<KubeAccess> {
  const source = paths.join(":");
  const docs = [];
  for (const path of paths) docs.push({ path, doc: await readKubeconfigFile(path) });
  const merged = mergeKubeconfigs(docs);
  const name = contextName || merged["current-context"];
  if (!name) throw new Error(`Cannot choose a context: kubeconfig ${source} has no current-context`);
  const { context } = findNamed(merged.contexts, name, "context", source);
  const { cluster } = findNamed(merged.clusters, context.cluster, "cluster", source);
  const user = context.user ? findNamed(merged.users, context.user, "user", source) : undefined;
  const ca = await pemFrom(
    cluster["certificate-authority-data"],
    cluster["certificate-authority"],
    `clusters.${context.cluster}.cluster.certificate-authority`,
  );
  const creds = await userCredentials(user);
  return {
    source,
    context: name,
    server: cluster.server.replace(/\/$/, ""),
    caCerts: ca ? [ca] : [],
    tlsServerName: cluster["tls-server-name"] || undefined,
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    proxyUrl: cluster["proxy-url"] || undefined,
    namespace: context.namespace || "default",
    refreshableCredentials: creds.refreshable,
    credentials: () => creds.credentials(),
    invalidateCredentials: () => creds.invalidate(),
  };
}

async function fromServiceAccount(): Promise<KubeAccess> {
  const host = env("KUBERNETES_SERVICE_HOST") ?? "";
  const port = env("KUBERNETES_SERVICE_PORT") ?? "443";
  const token = tokenFileReader(`${SERVICE_ACCOUNT_DIR}/token`);
  const namespaceFile = `${SERVICE_ACCOUNT_DIR}/namespace`;
  const namespace = await fileExists(namespaceFile)
    ? (await Deno.readTextFile(namespaceFile)).trim()
    : "default";
  return {
    source: "in-cluster",
    context: "in-cluster",
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    caCerts: [await Deno.readTextFile(`${SERVICE_ACCOUNT_DIR}/ca.crt`)],
    insecureSkipTlsVerify: false,
    namespace,
    refreshableCredentials: true,
    credentials: async () => ({ headers: { Authorization: `Bearer ${await token.read()}` } }),
    invalidateCredentials: () => token.invalidate(),
  };
}

/**
 * Loads the API server address, TLS settings and credentials.
 *
 * @param options Explicit kubeconfig path and context.
 * @returns The resolved access settings.
 */
export async function loadKubeAccess(options: LoadKubeAccessOptions = {}): Promise<KubeAccess> {
  const source = chooseKubeconfigSource(options.kubeconfig, {
    kubeconfigVar: env("KUBECONFIG"),
    serviceHost: env("KUBERNETES_SERVICE_HOST"),
    serviceAccountTokenExists: await fileExists(`${SERVICE_ACCOUNT_DIR}/token`),
    home: env("HOME"),
  });
  if (source.kind === "in-cluster") return await fromServiceAccount();
  const existing = [];
  for (const path of source.paths) {
    if (await fileExists(path)) existing.push(path);
    else if (source.required) throw new Error(`Cannot read kubeconfig "${path}": file not found`);
  }
  if (existing.length === 0) {
    throw new Error(`Cannot read kubeconfig: none of "${source.paths.join(":")}" exists`);
  }
  return await fromKubeconfigFiles(existing, options.context);
}
