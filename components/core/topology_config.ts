/**
 * The cluster topology config: which node pools exist, which GPUs their nodes have and how nodes join them.
 * Accepts both formats of upstream fake-gpu-operator's `topology` ConfigMap, pool by pool, either at the top
 * level or under `topology:` or `cluster:` (Helm values shape; `cluster:` wins when both are set):
 *
 * - legacy: `nodePools.<pool>.{gpuProduct, gpuCount, gpuMemory, otherDevices}`, plus fakegpu's optional
 *   `driverVersion`/`cudaVersion`;
 * - new: `nodePools.<pool>.gpu.{backend, profile, overrides}` and `resources`, where `profile` names a
 *   catalogue model and `overrides` reads `device_count`, `devices` (its length), `device_defaults.name`,
 *   `device_defaults.memory.total_bytes` and `system.{driver_version, cuda_version}` as upstream does.
 *   A pool without a count gets the model's usual GPUs per node (upstream's profiles carry 8, or 4 for t4).
 *   Other override keys are left to the mock backend.
 *
 * In both formats fakegpu also reads `migConfig` per pool: the MIG layout of its GPUs (see `mig_layout.ts`),
 * checked against the model's MIG table and refused for models without MIG or under `migStrategy: none`.
 * In both formats fakegpu also reads `sharing: {hami: {splitCount, memoryScaling, coreScaling, registerFormat}}`
 * per pool (see {@link HamiSharing}): HAMi shares the pool's GPUs, fakegpu plays HAMi's device plugin on its KWOK
 * nodes; refused together with `replicas`, a MIG layout or DRA (`gpuOffer` `dra` or `both`).
 * In both formats fakegpu also reads `nodeCount` and `gpuOffer` per pool (`gpuOffer` also at the top level, as
 * the default of every pool): `extended-resource`, `dra` or `both`, see {@link GpuOffer}.
 *
 * Products resolve through the catalogue (key, nvidia-smi name or GFD label); an unknown product becomes a
 * synthetic model and then needs its memory. An explicit memory replaces the catalogue's. Unknown fields are
 * errors, except upstream's `gpuOperator` and per-pool `numa`, which are accepted and ignored. All problems
 * are collected into one {@link TopologyConfigError}.
 *
 * @module
 */

import { isScalar, LineCounter, parseDocument, visit } from "yaml";
import { z } from "zod";
import { findGpuModel, GPU_CATALOGUE, unknownGpuModel } from "./catalogue.ts";
import { MIG_DISABLED, MigLayoutError, type MigLayoutSpec, resolveMigLayout } from "./mig_layout.ts";
import type {
  ClusterTopology,
  GpuModel,
  GpuOffer,
  HamiSharing,
  MigStrategy,
  PoolSharing,
  PoolSpec,
} from "./model.ts";

/** Node label key that assigns a node to a pool unless the config says otherwise. */
export const DEFAULT_NODE_POOL_LABEL_KEY = "run.ai/simulated-gpu-node-pool";
/** Driver version of pools that set none. */
export const DEFAULT_DRIVER_VERSION = "580.105.08";
/** CUDA version of pools that set none. */
export const DEFAULT_CUDA_VERSION = "13.0";
/** Most GPUs one node may have. */
export const MAX_GPUS_PER_NODE = 256;

/** The demo fleet: 8 × A100 80GB, 8 × H100 80GB HBM3 and 4 × L40S nodes, in the legacy format. */
export const DEFAULT_TOPOLOGY_YAML = `# fakegpu default fleet (legacy fake-gpu-operator format)
nodePoolLabelKey: run.ai/simulated-gpu-node-pool
migStrategy: none
nodePools:
  a100:
    gpuProduct: NVIDIA-A100-SXM4-80GB
    gpuCount: 8
    gpuMemory: 81920
    nodeCount: 2 # fakegpu: KWOK nodes local-fleet creates
  h100:
    gpuProduct: NVIDIA-H100-80GB-HBM3
    gpuCount: 8
    gpuMemory: 81559
    nodeCount: 1
  l40s:
    gpuProduct: NVIDIA-L40S
    gpuCount: 4
    gpuMemory: 46068
    nodeCount: 2
`;

/** A topology config that cannot be used; `issues` holds one line per problem, each naming its field. */
export class TopologyConfigError extends Error {
  /** Every problem found, e.g. `nodePools.a100.gpuCount: expected a positive integer, got "eight"`. */
  readonly issues: string[];

  /** Builds the error from its problem lines. */
  constructor(issues: string[]) {
    super(
      issues.length === 1
        ? `Invalid topology config: ${issues[0]}`
        : `Invalid topology config (${issues.length} problems):\n- ${issues.join("\n- ")}`,
    );
    this.name = "TopologyConfigError";
    this.issues = issues;
  }
}

type Path = (string | number)[];

interface Issue {
  path: Path;
  message: string;
}

// ---------------------------------------------------------------------------------------------------------
// Schemas

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? value.slice(0, 57) + "..." : value);
  }
  if (Array.isArray(value)) return "a list";
  if (value !== null && typeof value === "object") return "a map";
  return String(value);
}

/** Zod error option: `expected <what>, got <input>`; unknown keys keep zod's issue (reported separately). */
function expecting(what: string) {
  return {
    error: (issue: { code?: string; input?: unknown }) =>
      issue.code === "unrecognized_keys" ? undefined : `expected ${what}, got ${show(issue.input)}`,
  };
}

const positiveInt = z.int(expecting("a positive integer")).min(1, expecting("a positive integer"));
const nonNegativeInt = z.int(expecting("a non-negative integer")).min(0, expecting("a non-negative integer"));
const gpuCount = positiveInt.max(MAX_GPUS_PER_NODE, expecting(`at most ${MAX_GPUS_PER_NODE} GPUs per node`));
/** Time-slicing replicas per GPU (NVIDIA's device plugin allows any positive count; 64 keeps IDs sane). */
const replicas = positiveInt.max(64, expecting("at most 64 replicas per GPU"));
/** A positive factor such as HAMi's memory and core scaling. */
const positiveNumber = z.number(expecting("a positive number")).gt(0, expecting("a positive number"));
const REGISTER_FORMATS = ["json", "text"] as const satisfies readonly HamiSharing["registerFormat"][];
/** HAMi sharing of a pool, with HAMi's defaults (`deviceSplitCount: 10`, scaling 1, the v2.8+ JSON register). */
const sharing = z.strictObject({
  hami: z.strictObject({
    splitCount: positiveInt.max(256, expecting("at most 256 pods per GPU")).default(10),
    memoryScaling: positiveNumber.default(1),
    coreScaling: positiveNumber.default(1),
    registerFormat: z.enum(REGISTER_FORMATS, expecting(`one of "json", "text"`)).default("json"),
  }, expecting("a map")),
}, expecting("a map with hami"));
const nonEmptyString = z.string(expecting("a non-empty string")).min(1, expecting("a non-empty string"));
/** A MIG layout: a mig-parted config name, the profiles of every GPU, or a list of them per GPU. */
const migConfig = z.union([
  nonEmptyString,
  z.array(nonEmptyString),
  z.array(z.array(nonEmptyString)),
], expecting(`a MIG config name such as "all-balanced", or a list of MIG profiles (per GPU)`));

/** A version string; a YAML number such as `12.4` is taken as its text (integers gain `.0`). */
function versionString(pattern: RegExp, example: string) {
  return z.unknown().transform((value, ctx) => {
    const text = typeof value === "number" ? (Number.isInteger(value) ? `${value}.0` : String(value)) : value;
    if (typeof text === "string" && pattern.test(text)) return text;
    ctx.issues.push({
      code: "custom",
      input: value,
      message: `expected a version like "${example}", got ${show(value)}`,
    });
    return z.NEVER;
  });
}

const driverVersion = versionString(/^\d+\.\d+(\.\d+)?$/, DEFAULT_DRIVER_VERSION);
const cudaVersion = versionString(/^\d+\.\d+$/, DEFAULT_CUDA_VERSION);

const GPU_OFFERS = ["extended-resource", "dra", "both"] as const satisfies readonly GpuOffer[];
const gpuOffer = z.enum(GPU_OFFERS, expecting(`one of ${GPU_OFFERS.map((o) => `"${o}"`).join(", ")}`));

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Kubernetes qualified name (`prefix/name` or `name`); `needsPrefix` for extended resource names. */
function isQualifiedName(value: string, needsPrefix: boolean): boolean {
  const slash = value.indexOf("/");
  if (slash < 0) return !needsPrefix && LABEL_NAME.test(value);
  const prefix = value.slice(0, slash);
  return prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix) && LABEL_NAME.test(value.slice(slash + 1));
}

const labelKey = z.string(expecting("a label key")).refine(
  (value) => isQualifiedName(value, false),
  {
    error: (issue) =>
      `expected a label key such as "${DEFAULT_NODE_POOL_LABEL_KEY}", got ${show(issue.input)}`,
  },
);

const topLevelSchema = z.strictObject({
  nodePools: z.record(z.string(), z.unknown(), expecting("a map of pool names to pools")),
  nodePoolLabelKey: labelKey.default(DEFAULT_NODE_POOL_LABEL_KEY),
  migStrategy: z.enum(["none", "single", "mixed"], expecting(`one of "none", "single", "mixed"`)).default(
    "none",
  ),
  driverVersion: driverVersion.default(DEFAULT_DRIVER_VERSION),
  cudaVersion: cudaVersion.default(DEFAULT_CUDA_VERSION),
  gpuOffer: gpuOffer.optional(),
  gpuOperator: z.unknown().optional(), // upstream parses it and never uses it
}, expecting("a map with nodePools"));

const legacyPoolSchema = z.strictObject({
  gpuProduct: nonEmptyString,
  gpuCount: gpuCount,
  gpuMemory: positiveInt.optional(),
  otherDevices: z.array(
    z.strictObject({ name: nonEmptyString, count: nonNegativeInt }, expecting("a map with name and count")),
    expecting("a list"),
  ).optional(),
  driverVersion: driverVersion.optional(),
  cudaVersion: cudaVersion.optional(),
  nodeCount: nonNegativeInt.optional(),
  gpuOffer: gpuOffer.optional(),
  replicas: replicas.optional(),
  migConfig: migConfig.optional(),
  sharing: sharing.optional(),
  numa: z.unknown().optional(), // NUMA simulation is not implemented; accepted for compatibility
}, expecting("a map"));

const overridesSchema = z.looseObject({
  device_count: nonNegativeInt.max(MAX_GPUS_PER_NODE, expecting(`at most ${MAX_GPUS_PER_NODE} GPUs per node`))
    .optional(),
  devices: z.array(z.unknown(), expecting("a list")).max(
    MAX_GPUS_PER_NODE,
    { error: `expected at most ${MAX_GPUS_PER_NODE} devices` },
  ).optional(),
  device_defaults: z.looseObject({
    name: nonEmptyString.optional(),
    memory: z.looseObject({ total_bytes: positiveInt.optional() }, expecting("a map")).optional(),
  }, expecting("a map")).optional(),
  system: z.looseObject({
    driver_version: driverVersion.optional(),
    cuda_version: cudaVersion.optional(),
  }, expecting("a map")).optional(),
}, expecting("a map"));

const newPoolSchema = z.strictObject({
  gpu: z.strictObject({
    backend: z.enum(["fake", "mock"], expecting(`one of "fake", "mock"`)).default("fake"),
    profile: nonEmptyString.optional(),
    overrides: overridesSchema.optional(),
  }, expecting("a map")),
  resources: z.array(z.record(z.string(), nonNegativeInt, expecting("a map")), expecting("a list"))
    .optional(),
  nodeCount: nonNegativeInt.optional(),
  gpuOffer: gpuOffer.optional(),
  replicas: replicas.optional(),
  migConfig: migConfig.optional(),
  sharing: sharing.optional(),
  numa: z.unknown().optional(), // as in the legacy format
}, expecting("a map"));

/**
 * The shape of a topology config as one schema, pools in either format: the field checks of
 * {@link parseTopology} without its catalogue lookups and cross-field rules. The Helm chart's
 * `values.schema.json` is generated from it (`deno task chart:schema`).
 */
export const topologyShapeSchema = topLevelSchema.extend({
  nodePools: z.record(z.string().regex(LABEL_NAME), z.union([legacyPoolSchema, newPoolSchema])),
});

const LEGACY_POOL_KEYS = ["gpuProduct", "gpuCount", "gpuMemory", "otherDevices"];

/** Every field name the config knows, for "did you mean" hints on unknown fields. */
const KNOWN_FIELDS = new Set(
  [topLevelSchema, legacyPoolSchema, newPoolSchema, newPoolSchema.shape.gpu, sharing, sharing.shape.hami]
    .flatMap((schema) => Object.keys(schema.shape)).concat(["name", "count"]),
);

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

function unknownFieldMessage(key: string): string {
  const near = [...KNOWN_FIELDS].find((field) => editDistance(field.toLowerCase(), key.toLowerCase()) <= 2);
  return near ? `unknown field; did you mean "${near}"?` : "unknown field";
}

function zodIssues(error: z.ZodError, base: Path): Issue[] {
  return error.issues.flatMap((issue): Issue[] => {
    const path = [...base, ...issue.path.map((part) => typeof part === "symbol" ? String(part) : part)];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: [...path, key], message: unknownFieldMessage(key) }));
    }
    return [{ path, message: issue.message }];
  });
}

// ---------------------------------------------------------------------------------------------------------
// Resolution

/** A pool in neither format yet: values with the config path each came from (for messages). */
interface PoolDraft {
  backend: "fake" | "mock";
  profile?: string;
  product?: string;
  memoryMiB?: number;
  count?: number;
  driverVersion?: string;
  cudaVersion?: string;
  nodeCount?: number;
  gpuOffer?: GpuOffer;
  replicas?: number;
  migConfig?: MigLayoutSpec;
  sharing?: PoolSharing;
  resources: { name: string; count: number; path: Path }[];
  paths: { profile: Path; product: Path; memory: Path; count: Path; migConfig: Path; sharing: Path };
}

type LegacyPool = z.infer<typeof legacyPoolSchema>;
type NewPool = z.infer<typeof newPoolSchema>;

function legacyDraft(pool: LegacyPool, at: Path): PoolDraft {
  return {
    backend: "fake",
    product: pool.gpuProduct,
    memoryMiB: pool.gpuMemory,
    count: pool.gpuCount,
    driverVersion: pool.driverVersion,
    cudaVersion: pool.cudaVersion,
    nodeCount: pool.nodeCount,
    gpuOffer: pool.gpuOffer,
    replicas: pool.replicas,
    migConfig: pool.migConfig,
    sharing: pool.sharing,
    resources: (pool.otherDevices ?? []).map((device, i) => ({
      ...device,
      path: [...at, "otherDevices", i, "name"],
    })),
    paths: {
      profile: at,
      product: [...at, "gpuProduct"],
      memory: [...at, "gpuMemory"],
      count: [...at, "gpuCount"],
      migConfig: [...at, "migConfig"],
      sharing: [...at, "sharing", "hami"],
    },
  };
}

function newDraft(pool: NewPool, at: Path): PoolDraft {
  const overrides = pool.gpu.overrides ?? {};
  const totalBytes = overrides.device_defaults?.memory?.total_bytes;
  const count = overrides.device_count || overrides.devices?.length;
  const overridesAt = [...at, "gpu", "overrides"];
  return {
    backend: pool.gpu.backend,
    profile: pool.gpu.profile,
    product: overrides.device_defaults?.name,
    memoryMiB: totalBytes === undefined ? undefined : Math.floor(totalBytes / 2 ** 20),
    count: count || undefined,
    driverVersion: overrides.system?.driver_version,
    cudaVersion: overrides.system?.cuda_version,
    nodeCount: pool.nodeCount,
    gpuOffer: pool.gpuOffer,
    replicas: pool.replicas,
    migConfig: pool.migConfig,
    sharing: pool.sharing,
    resources: (pool.resources ?? []).flatMap((entry, i) =>
      Object.entries(entry).map(([name, value]) => ({
        name,
        count: value,
        path: [...at, "resources", i, name],
      }))
    ),
    paths: {
      profile: [...at, "gpu", "profile"],
      product: [...overridesAt, "device_defaults", "name"],
      memory: [...overridesAt, "device_defaults", "memory", "total_bytes"],
      count: [...overridesAt, "device_count"],
      migConfig: [...at, "migConfig"],
      sharing: [...at, "sharing", "hami"],
    },
  };
}

function resolveModel(draft: PoolDraft, issues: Issue[]): GpuModel | undefined {
  if (draft.memoryMiB !== undefined && draft.memoryMiB < 1) {
    issues.push({ path: draft.paths.memory, message: "expected at least 1 MiB (1048576 bytes)" });
    return undefined;
  }
  const base = draft.profile === undefined ? undefined : findGpuModel(draft.profile);
  if (draft.profile !== undefined && !base) {
    const known = GPU_CATALOGUE.map((model) => model.key).join(", ");
    issues.push({
      path: draft.paths.profile,
      message: `unknown GPU profile "${draft.profile}"; known: ${known}`,
    });
    return undefined;
  }
  let model = base;
  if (draft.product !== undefined) {
    const named = findGpuModel(draft.product);
    if (named) model = named;
    else if (base) model = { ...base, name: draft.product };
    else if (draft.memoryMiB === undefined) {
      issues.push({
        path: draft.paths.memory,
        message: `required for the unknown product "${draft.product}"`,
      });
      return undefined;
    } else model = unknownGpuModel(draft.product, draft.memoryMiB);
  }
  if (!model) {
    issues.push({
      path: draft.paths.profile,
      message: "required unless overrides.device_defaults.name is set",
    });
    return undefined;
  }
  if (draft.memoryMiB !== undefined && draft.memoryMiB !== model.memoryMiB) {
    model = { ...model, memoryMiB: draft.memoryMiB };
  }
  return model;
}

function resolveResources(draft: PoolDraft, issues: Issue[]): Record<string, number> {
  const found = new Map<string, number>();
  for (const { name, count, path } of draft.resources) {
    if (name === "nvidia.com/gpu") continue; // the GPU count comes from the pool, as upstream
    if (!isQualifiedName(name, true)) {
      issues.push({
        path,
        message: `expected an extended resource name such as "rdma/hca", got ${show(name)}`,
      });
    } else if (found.has(name)) {
      issues.push({ path, message: `duplicate resource "${name}"` });
    } else found.set(name, count);
  }
  return Object.fromEntries([...found].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

interface Defaults {
  driverVersion: string;
  cudaVersion: string;
  gpuOffer?: GpuOffer;
  migStrategy: MigStrategy;
}

/** Checks a pool's MIG layout against its model and the cluster's strategy. */
function checkMigConfig(
  draft: PoolDraft,
  model: GpuModel,
  gpuCount: number,
  defaults: Defaults,
  issues: Issue[],
) {
  if (draft.migConfig === undefined || draft.migConfig === MIG_DISABLED) return;
  const path = draft.paths.migConfig;
  if (defaults.migStrategy === "none") {
    issues.push({ path, message: `needs migStrategy "single" or "mixed" (it is "none")` });
    return;
  }
  try {
    resolveMigLayout(model, draft.migConfig, gpuCount);
  } catch (err) {
    if (!(err instanceof MigLayoutError)) throw err;
    issues.push({ path, message: err.message });
  }
}

/** Checks that HAMi sharing is the pool's only way of sharing and offering its GPUs. */
function checkSharing(draft: PoolDraft, gpuOffer: GpuOffer | undefined, issues: Issue[]) {
  if (!draft.sharing) return;
  const clash = (draft.replicas ?? 1) > 1
    ? "replicas (time-slicing)"
    : draft.migConfig !== undefined && draft.migConfig !== MIG_DISABLED
    ? "a migConfig (MIG)"
    : gpuOffer === "dra" || gpuOffer === "both"
    ? `gpuOffer "${gpuOffer}" (HAMi shares GPUs advertised as nvidia.com/gpu only; use "extended-resource")`
    : undefined;
  if (clash) {
    issues.push({ path: draft.paths.sharing, message: `HAMi sharing cannot be combined with ${clash}` });
  }
}

function resolvePool(
  name: string,
  draft: PoolDraft,
  defaults: Defaults,
  issues: Issue[],
): PoolSpec | undefined {
  const before = issues.length;
  const model = resolveModel(draft, issues);
  const otherResources = resolveResources(draft, issues);
  if (!model || issues.length > before) return undefined;
  const gpuOffer = draft.gpuOffer ?? defaults.gpuOffer;
  const gpuCount = draft.count ?? model.gpusPerNode ?? 8;
  checkMigConfig(draft, model, gpuCount, defaults, issues);
  checkSharing(draft, gpuOffer, issues);
  if (issues.length > before) return undefined;
  return {
    name,
    model,
    gpuCount,
    driverVersion: draft.driverVersion ?? defaults.driverVersion,
    cudaVersion: draft.cudaVersion ?? defaults.cudaVersion,
    otherResources,
    backend: draft.backend,
    ...(draft.nodeCount === undefined ? {} : { nodeCount: draft.nodeCount }),
    ...(gpuOffer === undefined ? {} : { gpuOffer }),
    ...((draft.replicas ?? 1) > 1 ? { replicas: draft.replicas } : {}),
    ...(draft.migConfig === undefined ? {} : { migConfig: draft.migConfig }),
    ...(draft.sharing === undefined ? {} : { sharing: draft.sharing }),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Validates one pool in whichever format it uses and turns it into a draft. */
function draftPool(raw: unknown, at: Path, issues: Issue[]): PoolDraft | undefined {
  if (!isPlainObject(raw) || !("gpu" in raw || "resources" in raw)) {
    const parsed = legacyPoolSchema.safeParse(raw);
    if (parsed.success) return legacyDraft(parsed.data, at);
    issues.push(...zodIssues(parsed.error, at));
    return undefined;
  }
  const mixed = LEGACY_POOL_KEYS.filter((key) => key in raw);
  if (mixed.length > 0) {
    issues.push({
      path: at,
      message: `mixes legacy fields (${mixed.join(", ")}) with gpu:/resources:; use one format`,
    });
  }
  const parsed = newPoolSchema.safeParse(
    Object.fromEntries(Object.entries(raw).filter(([k]) => !mixed.includes(k))),
  );
  if (parsed.success) return mixed.length > 0 ? undefined : newDraft(parsed.data, at);
  issues.push(...zodIssues(parsed.error, at));
  return undefined;
}

function resolveBody(body: unknown, issues: Issue[]): ClusterTopology | undefined {
  if (body === undefined || body === null) {
    issues.push({ path: [], message: "the topology config is empty" });
    return undefined;
  }
  const top = topLevelSchema.safeParse(body);
  if (!top.success) issues.push(...zodIssues(top.error, []));
  const rawPools = isPlainObject(body) && isPlainObject(body.nodePools) ? body.nodePools : {};
  const defaults = top.success ? top.data : {
    driverVersion: DEFAULT_DRIVER_VERSION,
    cudaVersion: DEFAULT_CUDA_VERSION,
    migStrategy: "none" as const,
  };
  const pools: Record<string, PoolSpec> = {};
  for (const [name, raw] of Object.entries(rawPools)) {
    const at = ["nodePools", name];
    if (!LABEL_NAME.test(name)) {
      issues.push({
        path: at,
        message: "expected a pool name that is a valid label value (up to 63 letters, digits, -, _ or .)",
      });
    }
    const draft = draftPool(raw, at, issues);
    const pool = draft && resolvePool(name, draft, defaults, issues);
    if (pool) pools[name] = pool;
  }
  if (!top.success || issues.length > 0) return undefined;
  return { nodePoolLabelKey: top.data.nodePoolLabelKey, migStrategy: top.data.migStrategy, pools };
}

/** Where the topology sits in the input: at the top, or under `cluster:` / `topology:` (Helm values). */
function unwrap(input: unknown): { body: unknown; prefix: Path } {
  if (isPlainObject(input) && !("nodePools" in input)) {
    for (const key of ["cluster", "topology"]) {
      const inner = input[key];
      if (isPlainObject(inner) && Object.keys(inner).length > 0) return { body: inner, prefix: [key] };
    }
  }
  return { body: input, prefix: [] };
}

function formatPath(path: Path): string {
  return path.map((part, i) => typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`).join("");
}

function formatIssue(issue: Issue, location = ""): string {
  return location + (issue.path.length > 0 ? `${formatPath(issue.path)}: ${issue.message}` : issue.message);
}

/**
 * Validates a parsed topology config (either format, optionally under `topology:` or `cluster:`) and
 * resolves every pool against the GPU catalogue.
 *
 * @param input The config as parsed from YAML or JSON.
 * @throws {TopologyConfigError} Listing every problem, each naming its field.
 */
export function parseTopology(input: unknown): ClusterTopology {
  const issues: Issue[] = [];
  const topology = resolveBody(unwrap(input).body, issues);
  if (!topology) throw new TopologyConfigError(issues.map((issue) => formatIssue(issue)));
  return topology;
}

const VERSION_KEYS = new Set(["driverVersion", "cudaVersion", "driver_version", "cuda_version"]);

/**
 * Parses a topology config from YAML text, as {@link parseTopology} does. YAML syntax errors and config
 * problems are reported as `<source>:<line>: …`. Version fields keep their text (`cudaVersion: 12.10` stays
 * `12.10`, not the number 12.1).
 *
 * @param text The YAML document.
 * @param source Name used in messages, e.g. a file path.
 * @throws {TopologyConfigError} On a syntax error or an invalid config.
 */
export function parseTopologyYaml(text: string, source = "topology.yml"): ClusterTopology {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) {
    throw new TopologyConfigError(doc.errors.map((error) => {
      const where = error.linePos ? `${source}:${error.linePos[0].line}:${error.linePos[0].col}` : source;
      const message = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
      return `${where}: YAML syntax error: ${message}`;
    }));
  }
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && VERSION_KEYS.has(String(pair.key.value)) && isScalar(pair.value)) {
        if (typeof pair.value.value === "number" && pair.value.source) pair.value.value = pair.value.source;
      }
    },
  });
  const { body, prefix } = unwrap(doc.toJS());
  const issues: Issue[] = [];
  const topology = resolveBody(body, issues);
  if (topology) return topology;
  throw new TopologyConfigError(issues.map((issue) => {
    let path: Path = [...prefix, ...issue.path];
    let node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    while (!node?.range && path.length > 0) {
      path = path.slice(0, -1);
      node = (path.length > 0 ? doc.getIn(path, true) : doc.contents) as typeof node;
    }
    const line = node?.range ? `:${lineCounter.linePos(node.range[0]).line}` : "";
    return formatIssue(issue, `${source}${line}: `);
  }));
}
