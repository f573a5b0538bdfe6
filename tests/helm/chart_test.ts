/**
 * The Helm chart in deploy/helm/fakegpu, rendered by the real `helm` (no cluster needed): lint, the names
 * fake-gpu-operator's users rely on, per-role switches, the topology ConfigMap, values reused from an older
 * release, and values.schema.json judging topologies as the roles do.
 */
import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { findControlPlaneBinDir } from "../cluster/harness.ts";
import {
  DEFAULT_TOPOLOGY_YAML,
  parseTopology,
  parseTopologyYaml,
} from "../../components/core/topology_config.ts";
import { generatedChartFiles } from "../../deploy/values_schema.ts";
import {
  caseArgs,
  CHART_DIR,
  CHART_ROLES,
  findObject,
  helm,
  type KubeManifest,
  LEGACY_SET_ARGS,
  NEW_FORMAT_VALUES,
  RELEASE,
  RENDER_CASES,
  renderChart,
  renderChartText,
} from "./chart_fixtures.ts";
import { TOPOLOGY_TABLE } from "./topology_table.ts";
import { promtool } from "../cluster/prometheus.ts";

const binDir = await findControlPlaneBinDir();
const tmp = await Deno.makeTempDir({ prefix: "fakegpu-chart-test-" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

function topologyOf(objects: KubeManifest[]) {
  const cm = findObject(objects, "ConfigMap", "topology") as { data: Record<string, string> } | undefined;
  assert.ok(cm, "ConfigMap topology rendered");
  return parseTopologyYaml(cm.data["topology.yml"]);
}

interface Deployment {
  spec: {
    replicas: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: { serviceAccountName: string; containers: { args: string[] }[] };
    };
  };
}

Deno.test("generated chart files match their sources (deno task chart:schema)", async () => {
  for (const [path, text] of Object.entries(generatedChartFiles())) {
    assert.equal(await Deno.readTextFile(`${CHART_DIR}/${path}`), text, `${path} is stale`);
  }
});

Deno.test("helm lint passes for defaults, the legacy --set line and a new-format values file", async () => {
  const newFormat = await caseArgs(RENDER_CASES.find((c) => c.valuesFile === NEW_FORMAT_VALUES)!, tmp);
  for (const args of [[], LEGACY_SET_ARGS, newFormat]) {
    const out = await helm(binDir, ["lint", "--strict", CHART_DIR, ...args]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

Deno.test("every render case runs exactly the enabled roles, each with its own ServiceAccount", async () => {
  for (const renderCase of RENDER_CASES) {
    const objects = await renderChart(binDir, await caseArgs(renderCase, tmp));
    const switches = renderCase.args.join(" ") + (renderCase.valuesFile ?? "");
    for (const role of CHART_ROLES) {
      const off = switches.includes(`${role.key}.enabled=false`);
      const on = switches.includes(`${role.key}.enabled=true`) || (role.defaultOn && !off);
      const deployment = findObject(objects, "Deployment", role.deployment) as KubeManifest & Deployment;
      assert.equal(deployment !== undefined, on, `${renderCase.name}: Deployment ${role.deployment}`);
      assert.equal(
        findObject(objects, "ServiceAccount", role.serviceAccount) !== undefined,
        on,
        `${renderCase.name}: ServiceAccount ${role.serviceAccount}`,
      );
      if (!on) continue;
      const pod = deployment.spec.template.spec;
      assert.equal(pod.serviceAccountName, role.serviceAccount);
      assert.equal(pod.containers[0].args[0], role.role);
      assert.ok(pod.containers[0].args.includes(`--namespace=${RELEASE}`));
      if (role.lease) assert.ok(findObject(objects, "Lease", role.lease), `${renderCase.name}: Lease`);
    }
    const topologyOn = !switches.includes("topologyConfigMap.enabled=false");
    if (topologyOn) topologyOf(objects);
    else assert.equal(findObject(objects, "ConfigMap", "topology"), undefined);
  }
});

Deno.test("the names fake-gpu-operator's scripts use are there", async () => {
  const objects = await renderChart(binDir, LEGACY_SET_ARGS);
  assert.ok(findObject(objects, "Deployment", "status-updater"));
  const runtimeClass = findObject(objects, "RuntimeClass", "nvidia");
  assert.equal(runtimeClass?.handler, "runc");
  const service = findObject(objects, "Service", "nvidia-dcgm-exporter") as KubeManifest & {
    spec: { selector: Record<string, string>; ports: { name: string; port: number }[] };
  };
  assert.equal(service.metadata.annotations?.["prometheus.io/scrape"], "true");
  assert.deepEqual(service.spec.ports.map((p) => [p.name, p.port]), [["gpu-metrics", 9400]]);
  const exporter = findObject(objects, "Deployment", "nvidia-dcgm-exporter") as KubeManifest & Deployment;
  const podLabels = exporter.spec.template.metadata.labels;
  assert.equal(podLabels.app, "nvidia-dcgm-exporter");
  for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(podLabels[k], v, `selector ${k}`);
});

Deno.test("nothing is tied to the gpu-operator namespace", async () => {
  const text = await helm(binDir, [
    "template",
    "sim",
    CHART_DIR,
    "--namespace",
    "gpu-sim",
    "--set",
    "draPlugin.enabled=true",
    "--set",
    "serviceMonitor.enabled=true",
    "--set",
    "prometheusRule.enabled=true",
  ]);
  assert.ok(!text.includes("gpu-operator"), "a rendered manifest names gpu-operator");
  assert.match(text, /--namespace=gpu-sim/);
});

Deno.test("the default fleet applies only while the values name no pool", async () => {
  const defaults = topologyOf(await renderChart(binDir, []));
  assert.deepEqual(
    Object.keys(defaults.pools).sort(),
    Object.keys(parseTopologyYaml(DEFAULT_TOPOLOGY_YAML).pools).sort(),
  );
  const one = topologyOf(
    await renderChart(binDir, [
      "--set",
      "topology.nodePools.t4.gpuProduct=NVIDIA-T4",
      "--set",
      "topology.nodePools.t4.gpuCount=2",
    ]),
  );
  assert.deepEqual(Object.keys(one.pools), ["t4"]);
  const legacy = topologyOf(await renderChart(binDir, LEGACY_SET_ARGS));
  assert.deepEqual(
    Object.fromEntries(Object.entries(legacy.pools).map(([n, p]) => [n, [p.model.name, p.gpuCount]])),
    Object.fromEntries(
      Object.entries(defaults.pools).map(([n, p]) => [n, [p.model.name, p.gpuCount]]),
    ),
  );
  const newFormat = await caseArgs(RENDER_CASES.find((c) => c.valuesFile === NEW_FORMAT_VALUES)!, tmp);
  const cluster = topologyOf(await renderChart(binDir, newFormat));
  assert.deepEqual(Object.keys(cluster.pools).sort(), ["b200", "h100"]);
  assert.deepEqual(cluster.pools.h100.otherResources, { "rdma/rdma_shared_device_a": 1 });
});

Deno.test("a topology change renders no pod template change, so nothing restarts", async () => {
  const workloads = async (count: number) =>
    (await renderChart(binDir, [...LEGACY_SET_ARGS, "--set", `topology.nodePools.a100.gpuCount=${count}`]))
      .filter((o) => o.kind === "Deployment");
  assert.deepEqual(await workloads(4), await workloads(8));
});

Deno.test("values reused from an older release (any key missing) still render", async () => {
  const values = parse(await Deno.readTextFile(`${CHART_DIR}/values.yaml`)) as Record<
    string,
    Record<string, unknown>
  >;
  const keys = Object.entries(values).flatMap((
    [top, block],
  ) => [
    top,
    ...(CHART_ROLES.some((r) => r.key === top) ? Object.keys(block).map((k) => `${top}.${k}`) : []),
  ]);
  for (const key of keys) {
    const text = await renderChartText(binDir, ["--set", `${key}=null`]);
    assert.match(text, /kind: /, `rendering without ${key}`);
  }
});

Deno.test("helm names a misspelt key", async () => {
  await assert.rejects(
    () => renderChartText(binDir, ["--set", "statusUpdater.replica=2"]),
    /replica/,
  );
  await assert.rejects(
    () => renderChartText(binDir, ["--set", "dcgmExporterr.enabled=false"]),
    /dcgmExporterr/,
  );
});

Deno.test("values.schema.json and the roles judge topologies alike", async (t) => {
  for (const row of TOPOLOGY_TABLE) {
    await t.step(`${row.verdict}: ${row.name}`, async () => {
      const file = `${tmp}/row.yaml`;
      await Deno.writeTextFile(file, stringify({ [row.key]: row.topology }));
      if (row.verdict === "bad") {
        await assert.rejects(() => renderChartText(binDir, ["-f", file]), (err: Error) => {
          assert.ok(err.message.includes(row.field!), `helm: ${err.message}`);
          return true;
        });
        assert.throws(() => parseTopology({ [row.key]: row.topology }), (err: Error) => {
          assert.ok(err.message.includes(row.field!), `roles: ${err.message}`);
          return true;
        });
        return;
      }
      const objects = await renderChart(binDir, ["-f", file]);
      if (row.verdict === "ok") topologyOf(objects);
      else assert.throws(() => topologyOf(objects), new RegExp(row.field!));
    });
  }
});

Deno.test("kube-prometheus-stack objects (rules valid for promtool) and DRA DeviceClasses render only when asked", async () => {
  const none = await renderChart(binDir, []);
  for (const kind of ["ServiceMonitor", "PrometheusRule", "DeviceClass"]) {
    assert.ok(!none.some((o) => o.kind === kind), `${kind} rendered by default`);
  }
  const all = await renderChart(binDir, [
    "--set",
    "serviceMonitor.enabled=true",
    "--set",
    "prometheusRule.enabled=true",
    "--set",
    "draPlugin.enabled=true",
  ]);
  const monitor = findObject(all, "ServiceMonitor", "nvidia-dcgm-exporter") as KubeManifest & {
    spec: { endpoints: { port: string }[] };
  };
  assert.equal(monitor.spec.endpoints[0].port, "gpu-metrics");
  const rule = findObject(all, "PrometheusRule", "fakegpu") as KubeManifest & { spec: { groups: unknown[] } };
  await Deno.writeTextFile(`${tmp}/rules.yaml`, stringify({ groups: rule.spec.groups }));
  const check = await promtool(["check", "rules", `${tmp}/rules.yaml`]);
  assert.equal(check.code, 0, check.output);
  assert.deepEqual(
    all.filter((o) => o.kind === "DeviceClass").map((o) => o.metadata.name).sort(),
    ["gpu.nvidia.com", "mig.nvidia.com"],
  );
});

Deno.test("a role's image fields override the top-level image; the tag defaults to appVersion", async () => {
  const objects = await renderChart(binDir, [
    "--set",
    "image.repository=registry.example/fakegpu",
    "--set",
    "dcgmExporter.image.tag=1.2",
    "--set",
    "statusUpdater.image.pullPolicy=Always",
  ]);
  const container = (name: string) =>
    (findObject(objects, "Deployment", name) as KubeManifest & {
      spec: { template: { spec: { containers: { image: string; imagePullPolicy: string }[] } } };
    }).spec.template.spec.containers[0];
  assert.deepEqual(container("status-updater"), {
    ...container("status-updater"),
    image: "registry.example/fakegpu:0.1.0",
    imagePullPolicy: "Always",
  });
  assert.equal(container("nvidia-dcgm-exporter").image, "registry.example/fakegpu:1.2");
  assert.equal(container("kwok-gpu-device-plugin").imagePullPolicy, "IfNotPresent");
});
