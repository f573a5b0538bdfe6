/**
 * Simulated GPU faults: what a tester switches on per GPU or per node with the node annotation
 * `fakegpu.io/gpu-faults`, how it is validated, and which faults make a GPU unhealthy the way NVIDIA's
 * device plugin judges it (an unhealthy GPU leaves `allocatable` but stays in `capacity`).
 *
 * The annotation holds a JSON (or YAML flow) map from a GPU index, or `all`, to the faults of that GPU:
 *
 * ```
 * kubectl annotate node kwok-a100-0 --overwrite fakegpu.io/gpu-faults='{"0": {"xid": 79}, "all": {"temperatureC": 95}}'
 * ```
 *
 * @module
 */
import { z } from "zod";
import { parse as parseYaml } from "yaml";

/** Node annotation holding the simulated faults of the node's GPUs. */
export const GPU_FAULTS_ANNOTATION = "fakegpu.io/gpu-faults";

/**
 * XID codes that NVIDIA's device plugin ignores by default (application errors): a GPU reporting one of
 * these stays healthy.
 */
export const APPLICATION_XIDS: ReadonlySet<number> = new Set([13, 31, 43, 45, 68, 109]);

/** Descriptions of the XID codes people simulate most, as dcgm-exporter prints them in `err_msg`. */
const XID_MESSAGES: Record<number, string> = {
  0: "No Error",
  8: "GPU stopped processing",
  13: "Graphics Engine Exception",
  31: "GPU memory page fault",
  43: "GPU stopped processing",
  45: "Preemptive cleanup, due to previous errors",
  48: "Double Bit ECC Error",
  63: "ECC page retirement or row remapping recording event",
  64: "ECC page retirement or row remapper recording failure",
  74: "NVLINK Error",
  79: "GPU has fallen off the bus",
  92: "High single-bit ECC error rate",
  94: "Contained ECC error",
  95: "Uncontained ECC error",
  119: "GSP RPC Timeout",
};

/** The `err_msg` of an XID code. */
export function xidMessage(code: number): string {
  return XID_MESSAGES[code] ?? "Unknown Error";
}

/** The simulated faults of one GPU; every field is optional and independent. */
export interface GpuFault {
  /** Last XID error: the XID series shows it; non-application codes make the GPU unhealthy. */
  xid?: number;
  /** Thermal excursion: the GPU runs at this temperature and its clocks are throttled. */
  temperatureC?: number;
  /** Memory pressure: framebuffer used at this share (percent) of the usable memory. */
  memoryUsedPercent?: number;
  /** GPU fallen off the bus: it disappears from the metrics and is unhealthy. */
  fallenOffBus?: boolean;
  /** ECC errors since boot; any uncorrectable error makes the GPU unhealthy. */
  eccErrors?: { correctable?: number; uncorrectable?: number };
  /** Row remapping failed: the GPU is unhealthy. */
  rowRemapFailure?: boolean;
}

const count = z.number().int().min(0);

/** Schema of {@link GpuFault}: unknown fields are rejected so that a misspelt fault is reported. */
export const gpuFaultSchema: z.ZodType<GpuFault> = z.strictObject({
  xid: z.number().int().min(1).max(999).optional(),
  temperatureC: z.number().int().min(0).max(150).optional(),
  memoryUsedPercent: z.number().min(0).max(100).optional(),
  fallenOffBus: z.boolean().optional(),
  eccErrors: z.strictObject({ correctable: count.optional(), uncorrectable: count.optional() }).optional(),
  rowRemapFailure: z.boolean().optional(),
});

/** Result of {@link parseGpuFaults}: faults by GPU index, or why the annotation was rejected. */
export interface GpuFaultsParse {
  /** Faults by GPU index (empty when there are none or the annotation is invalid). */
  faults: Map<number, GpuFault>;
  /** What is wrong with the annotation, naming the offending key and field. */
  error?: string;
}

const faultMapSchema = z.record(z.string(), gpuFaultSchema);

/**
 * Reads the fault annotation of a node with `gpuCount` GPUs. Faults under `all` apply to every GPU;
 * a GPU's own entry is merged over them. An invalid value gives an error and no faults.
 */
export function parseGpuFaults(value: string | undefined, gpuCount: number): GpuFaultsParse {
  const faults = new Map<number, GpuFault>();
  if (value === undefined || value.trim() === "") return { faults };
  const fail = (why: string) => ({ faults: new Map(), error: `${GPU_FAULTS_ANNOTATION}: ${why}` });
  let raw: unknown;
  try {
    raw = parseYaml(value);
  } catch (err) {
    return fail(`not JSON or YAML (${(err as Error).message.split("\n")[0]})`);
  }
  const parsed = faultMapSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
    return fail(`${where}${issue.message}`);
  }
  const all = parsed.data.all ?? {};
  for (const [key, fault] of Object.entries(parsed.data)) {
    if (key === "all") continue;
    const index = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!(index < gpuCount)) {
      return fail(`key "${key}" is not "all" or a GPU index below ${gpuCount}`);
    }
    faults.set(index, { ...all, ...fault });
  }
  if (Object.keys(all).length) {
    for (let i = 0; i < gpuCount; i++) if (!faults.has(i)) faults.set(i, { ...all });
  }
  return { faults };
}

/**
 * Whether a GPU with these faults is healthy as NVIDIA's device plugin judges it: a critical XID (not an
 * application error), a lost GPU, an uncorrectable ECC error or a failed row remap make it unhealthy.
 */
export function isGpuHealthy(fault: GpuFault | undefined): boolean {
  if (!fault) return true;
  if (fault.fallenOffBus || fault.rowRemapFailure) return false;
  if ((fault.eccErrors?.uncorrectable ?? 0) > 0) return false;
  return fault.xid === undefined || APPLICATION_XIDS.has(fault.xid);
}
