/**
 * Shared pieces of the Helm chart tests: running `helm` from the control plane bin dir, rendering the chart
 * into objects, and the values every test renders with (fake-gpu-operator's `--set` install line, a
 * new-format values file, each role turned off in turn).
 *
 * @module
 */

import { parseAllDocuments } from "yaml";
import { runCommand } from "../../components/local_fleet/control_plane.ts";
import { CHART_DIR } from "../../deploy/values_schema.ts";

export { CHART_DIR };

/** The release name and namespace fake-gpu-operator's instructions use. */
export const RELEASE = "gpu-operator";

/** A rendered Kubernetes object. */
export interface KubeManifest {
  /** API version. */
  apiVersion: string;
  /** Kind. */
  kind: string;
  /** Name, namespace, labels, annotations. */
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  /** Everything else. */
  [field: string]: unknown;
}

/**
 * fake-gpu-operator's documented install line for a three-pool legacy fleet, as `helm` arguments: the
 * default fleet's pools (a100, h100, l40s) given with `--set`.
 */
export const LEGACY_SET_ARGS = [
  "--set",
  "topology.nodePools.a100.gpuCount=8",
  "--set",
  "topology.nodePools.a100.gpuProduct=NVIDIA-A100-SXM4-80GB",
  "--set",
  "topology.nodePools.a100.gpuMemory=81920",
  "--set",
  "topology.nodePools.h100.gpuCount=8",
  "--set",
  "topology.nodePools.h100.gpuProduct=NVIDIA-H100-80GB-HBM3",
  "--set",
  "topology.nodePools.h100.gpuMemory=81559",
  "--set",
  "topology.nodePools.l40s.gpuCount=4",
  "--set",
  "topology.nodePools.l40s.gpuProduct=NVIDIA-L40S",
  "--set",
  "topology.nodePools.l40s.gpuMemory=46068",
];

/** A values file in fake-gpu-operator's new format (`cluster:` with `gpu:` pools). */
export const NEW_FORMAT_VALUES = `cluster:
  nodePoolLabelKey: run.ai/simulated-gpu-node-pool
  nodePools:
    h100:
      gpu:
        backend: fake
        profile: h100
        overrides:
          device_count: 8
          system: {driver_version: 580.105.08, cuda_version: "13.0"}
      resources:
        - rdma/rdma_shared_device_a: 1
    b200:
      gpu:
        profile: b200
`;

/** The chart's roles: values key, Deployment, ServiceAccount and leader Lease (when leader-elected). */
export const CHART_ROLES = [
  {
    key: "statusUpdater",
    role: "status-updater",
    deployment: "status-updater",
    serviceAccount: "fakegpu-status-updater",
    lease: "fakegpu-status-updater",
    defaultOn: true,
  },
  {
    key: "devicePlugin",
    role: "device-plugin",
    deployment: "kwok-gpu-device-plugin",
    serviceAccount: "fakegpu-device-plugin",
    lease: "fakegpu-device-plugin",
    defaultOn: true,
  },
  {
    key: "dcgmExporter",
    role: "dcgm-exporter",
    deployment: "nvidia-dcgm-exporter",
    serviceAccount: "fakegpu-dcgm-exporter",
    lease: undefined,
    defaultOn: true,
  },
  {
    key: "draPlugin",
    role: "dra-plugin",
    deployment: "kwok-dra-plugin",
    serviceAccount: "fakegpu-dra-plugin",
    lease: "fakegpu-dra-plugin",
    defaultOn: false,
  },
] as const;

/** One way of rendering the chart: a name for messages, `helm` arguments, and files those arguments name. */
export interface RenderCase {
  /** What the case shows. */
  name: string;
  /** Arguments after `helm template <release> <chart>`; `{file}` stands for the case's values file. */
  args: string[];
  /** Contents of the values file, if the case has one. */
  valuesFile?: string;
}

/** The renders the chart must support, every one of them accepted by a real API server. */
export const RENDER_CASES: RenderCase[] = [
  { name: "defaults", args: [] },
  { name: "legacy fleet with --set", args: LEGACY_SET_ARGS },
  { name: "new format from a values file", args: ["-f", "{file}"], valuesFile: NEW_FORMAT_VALUES },
  ...CHART_ROLES.filter((r) => r.defaultOn).map((r) => ({
    name: `${r.key} disabled`,
    args: ["--set", `${r.key}.enabled=false`],
  })),
  { name: "runtimeClass disabled", args: ["--set", "runtimeClass.enabled=false"] },
  { name: "topologyConfigMap disabled", args: ["--set", "topologyConfigMap.enabled=false"] },
  { name: "draPlugin enabled", args: ["--set", "draPlugin.enabled=true"] },
  {
    name: "HA replicas and exporter counters",
    args: ["-f", "{file}"],
    valuesFile: `statusUpdater: {replicas: 2}
devicePlugin: {replicas: 2}
dcgmExporter:
  replicas: 2
  counters: |
    DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).
    DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).
`,
  },
];

/** Runs `<binDir>/helm` with `args`; returns stdout, or throws with helm's stderr. */
export async function helm(binDir: string, args: string[]): Promise<string> {
  const result = await runCommand(`${binDir}/helm`, args);
  if (result.code !== 0) throw new Error(`helm ${args.join(" ")}: ${result.stderr.trim()}`);
  return result.stdout;
}

/** Writes a case's values file (if any) and returns its `helm` arguments with `{file}` filled in. */
export async function caseArgs(renderCase: RenderCase, dir: string): Promise<string[]> {
  if (renderCase.valuesFile === undefined) return renderCase.args;
  const file = await Deno.makeTempFile({ dir, suffix: ".yaml" });
  await Deno.writeTextFile(file, renderCase.valuesFile);
  return renderCase.args.map((a) => a === "{file}" ? file : a);
}

/** `helm template` of the chart as YAML text, in namespace `namespace` (default {@link RELEASE}). */
export function renderChartText(
  binDir: string,
  args: string[],
  namespace: string = RELEASE,
): Promise<string> {
  return helm(binDir, ["template", RELEASE, CHART_DIR, "--namespace", namespace, ...args]);
}

/** `helm template` of the chart as objects. */
export async function renderChart(
  binDir: string,
  args: string[],
  namespace?: string,
): Promise<KubeManifest[]> {
  const text = await renderChartText(binDir, args, namespace);
  return parseAllDocuments(text).map((d) => d.toJS() as KubeManifest | null).filter((o) => o !== null);
}

/** The object of `kind` named `name` among `objects`, or undefined. */
export function findObject(objects: KubeManifest[], kind: string, name: string): KubeManifest | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}
