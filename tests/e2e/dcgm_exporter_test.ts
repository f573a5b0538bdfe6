/**
 * dcgm-exporter end to end: the fleet (status-updater, device plugin) and `dcgm-exporter --node-scope kwok`
 * run as local processes against a real control plane; a real Prometheus scrapes the exporter every second
 * and evaluates alert rules written for real NVIDIA nodes.
 */
import assert from "node:assert/strict";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { freePort, promtool, startPrometheus } from "../cluster/prometheus.ts";
import { connect } from "../../components/core/kube/client.ts";
import { findGpuModel } from "../../components/core/catalogue.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import { DEFAULT_COUNTERS_CSV } from "../../components/dcgm_exporter/fields.ts";
import {
  createDefaultFleet,
  FLEET_NAMESPACE as NS,
  gpuPod,
  holders,
  type Node,
  type Pod,
  POOL_KEY,
} from "../cluster/fleet_fixtures.ts";

/** Alert rules as people write them for real GPU nodes. */
const RULES = [
  { alert: "GpuXidError", expr: "max(DCGM_FI_DEV_XID_ERRORS) > 0" },
  {
    alert: "GpuMemoryPressure",
    expr: "DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) > 0.95",
  },
  { alert: "GpuTooHot", expr: "DCGM_FI_DEV_GPU_TEMP > 90" },
  { alert: "DcgmExporterDown", expr: "absent(DCGM_FI_DEV_GPU_UTIL)" },
];

/** Metric families of the default counters file. */
const DEFAULT_FAMILIES = DEFAULT_COUNTERS_CSV.split("\n")
  .filter((line) => /^DCGM_FI_/.test(line) && !line.includes(", label,") && !/,\s*label,/.test(line))
  .map((line) => line.split(",")[0].trim());

Deno.test("dcgm-exporter scraped by a real Prometheus, with pod attribution, faults and alerts", async (t) => {
  await using cluster: TestCluster = await startTestCluster();
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-dcgm-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  const exporterPort = freePort();
  const metricsUrl = `http://127.0.0.1:${exporterPort}/metrics`;
  const roles: RoleProcess[] = [];
  try {
    const topology = parseTopologyYaml(DEFAULT_TOPOLOGY_YAML);
    const plan = fleetNodes(topology);
    const totalGpus = plan.reduce((n, p) => n + p.gpus, 0);
    await createDefaultFleet(client);
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    roles.push(await startRole("device-plugin", roleArgs, { logDir }));
    const exporter = await startRole("dcgm-exporter", [...roleArgs, "-a", `127.0.0.1:${exporterPort}`], {
      logDir,
    });
    roles.push(exporter);
    await using prometheus = await startPrometheus([`127.0.0.1:${exporterPort}`], RULES);
    const count = async (promql: string) => Number((await prometheus.query(promql))[0]?.value[1] ?? 0);

    await t.step("one series per GPU per default family, and no alert fires on a healthy fleet", async () => {
      await waitFor(
        "every GPU scraped",
        async () => await count("count(DCGM_FI_DEV_GPU_UTIL)") === totalGpus,
      );
      const gpusWhere = (test: (model: NonNullable<ReturnType<typeof findGpuModel>>) => boolean) =>
        plan.filter((p) => test(findGpuModel(topology.pools[p.pool].model.key)!)).reduce(
          (n, p) => n + p.gpus,
          0,
        );
      for (const family of DEFAULT_FAMILIES) {
        const expected = family === "DCGM_FI_DEV_MEMORY_TEMP"
          ? gpusWhere((m) => m.temperature.memoryOffsetC > 0) // HBM boards only, as DCGM
          : family === "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"
          ? gpusWhere((m) => m.formFactor === "sxm")
          : totalGpus;
        assert.equal(await count(`count(${family})`), expected, family);
        assert.equal(await count(`count(count by (UUID) (${family}))`), expected, `${family} per GPU`);
      }
      assert.equal(await count(`count(DCGM_FI_DEV_GPU_UTIL{pod!=""})`), 0);
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(await prometheus.firingAlerts(), []);
    });

    await t.step("a scrape passes promtool, with only the findings real DCGM names cause", async () => {
      const text = await (await fetch(metricsUrl)).text();
      const { code, output } = await promtool(["check", "metrics"], text);
      const findings = output.trim().split("\n").filter(Boolean);
      const inherent = [
        /label names should be written in 'snake_case' not 'camelCase'$/, // modelName, UUID: dcgm-exporter's names
        /counter metrics should have "_total" suffix$/, // DCGM's counter names
        /^DCGM_FI_DEV_PCIE_REPLAY_COUNTER metric name should not include type 'counter'$/, // DCGM's name
      ];
      assert.ok(code === 0 || code === 3, `promtool failed to parse the scrape (exit ${code}):\n${output}`);
      for (const finding of findings) {
        assert.ok(inherent.some((r) => r.test(finding)), `unexpected promtool finding: ${finding}`);
      }
    });

    await t.step("pod, namespace and container sit on exactly the GPUs a pod holds, then go", async () => {
      const pod = gpuPod("train-0", 2, { [POOL_KEY]: "a100" });
      (pod.metadata as Record<string, unknown>).annotations = { "run.ai/simulated-gpu-utilization": "60-70" };
      await client.create("/api/v1/namespaces/default/pods", pod);
      const running = await waitFor("pod running", async () => {
        const p = await client.get<Pod>("/api/v1/namespaces/default/pods/train-0");
        return p?.status?.phase === "Running" ? p : undefined;
      });
      const held = await waitFor("exporter attributes the pod", async () => {
        const series = await prometheus.query('DCGM_FI_DEV_GPU_UTIL{pod="train-0"}');
        return series.length === 2 ? series : undefined;
      });
      const holderUuids = [...(await holders(client)).entries()]
        .filter(([, uid]) => uid === running.metadata.uid).map(([uuid]) => uuid).sort();
      assert.deepEqual(held.map((s) => s.metric.UUID).sort(), holderUuids);
      for (const s of held) {
        assert.equal(s.metric.namespace, "default");
        assert.equal(s.metric.container, "main");
        assert.equal(s.metric.Hostname, running.spec.nodeName);
        const util = Number(s.value[1]);
        assert.ok(util >= 60 && util <= 70, `utilization ${util}`);
      }
      assert.equal(await count(`count(DCGM_FI_DEV_GPU_UTIL{pod!=""})`), 2, "no other GPU is attributed");
      await client.delete("/api/v1/namespaces/default/pods/train-0?gracePeriodSeconds=0");
      await waitFor("attribution gone", async () => (await prometheus.query('{pod="train-0"}')).length === 0);
      assert.equal(await count("count(DCGM_FI_DEV_GPU_UTIL)"), totalGpus, "the GPUs stay, unattributed");
    });

    await t.step("--node-scope this-node serves one node's GPUs, named by NODE_NAME", async () => {
      const node = plan.find((p) => p.pool === "h100")!;
      const port = freePort();
      const own = await startRole("dcgm-exporter", [
        ...roleArgs,
        "--node-scope",
        "this-node",
        "-a",
        `127.0.0.1:${port}`,
      ], {
        logDir,
        env: { NODE_NAME: node.name },
      });
      try {
        const text = await waitFor("this-node exporter serves", async () => {
          const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
          const body = await response?.text();
          return response?.ok && body?.includes("DCGM_FI_DEV_GPU_UTIL{") ? body : undefined;
        });
        const hosts = new Set([...text.matchAll(/Hostname="([^"]+)"/g)].map((m) => m[1]));
        assert.deepEqual([...hosts], [node.name]);
        assert.equal(text.match(/^DCGM_FI_DEV_GPU_UTIL\{/gm)?.length, node.gpus);
        const health = await fetch(`http://127.0.0.1:${port}/health`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
      } finally {
        await own.stop();
      }
    });

    const faulty = plan.find((p) => p.pool === "a100")!.name;
    const nodePath = `/api/v1/nodes/${faulty}`;
    const allocatable = async () =>
      (await client.get<Node>(nodePath))?.status?.allocatable?.["nvidia.com/gpu"];
    const annotate = (value: string | null) =>
      client.mergePatch(nodePath, { metadata: { annotations: { "fakegpu.io/gpu-faults": value } } });

    await t.step(
      "faults fire the real alerts; unhealthy GPUs leave allocatable and scheduling sees it",
      async () => {
        const lost =
          (await prometheus.query(`DCGM_FI_DEV_GPU_UTIL{Hostname="${faulty}",gpu="3"}`))[0].metric.UUID;
        await annotate(JSON.stringify({
          "0": { xid: 79 },
          "1": { temperatureC: 95 },
          "2": { memoryUsedPercent: 98 },
          "3": { fallenOffBus: true },
        }));
        await waitFor("the three alerts fire", async () => {
          const firing = await prometheus.firingAlerts();
          return ["GpuXidError", "GpuMemoryPressure", "GpuTooHot"].every((a) => firing.includes(a));
        }, { timeoutMs: 30_000 });
        const xid = await prometheus.query("DCGM_FI_DEV_XID_ERRORS > 0");
        assert.deepEqual(
          xid.map((s) => [s.metric.Hostname, s.metric.gpu, s.metric.err_code, s.metric.err_msg]),
          [
            [faulty, "0", "79", "GPU has fallen off the bus"],
          ],
        );
        assert.deepEqual(await prometheus.query(`{UUID="${lost}"}`), [], "a GPU off the bus has no series");
        assert.equal(await waitFor("allocatable drops", async () => await allocatable() === "6" && "6"), "6");
        assert.equal((await client.get<Node>(nodePath))?.status?.capacity?.["nvidia.com/gpu"], "8");
        assert.deepEqual((await prometheus.firingAlerts()).filter((a) => a === "DcgmExporterDown"), []);

        await client.create(
          "/api/v1/namespaces/default/pods",
          gpuPod("big", 7, { "kubernetes.io/hostname": faulty }),
        );
        await waitFor("the 7-GPU pod is unschedulable", async () => {
          const { items } = await client.list<{ reason?: string; message?: string }>(
            "/api/v1/namespaces/default/events",
            { fieldSelector: "involvedObject.name=big" },
          );
          return items.some((e) =>
            e.reason === "FailedScheduling" && /Insufficient nvidia.com\/gpu/.test(e.message ?? "")
          );
        });
        await annotate(null);
        assert.equal(await waitFor("allocatable back", async () => await allocatable() === "8" && "8"), "8");
        await waitFor("the 7-GPU pod runs once the GPUs are healthy", async () => {
          const p = await client.get<Pod>("/api/v1/namespaces/default/pods/big");
          return p?.status?.phase === "Running";
        });
        await waitFor("alerts resolve", async () => (await prometheus.firingAlerts()).length === 0, {
          timeoutMs: 30_000,
        });
        assert.equal(await count(`count(DCGM_FI_DEV_GPU_UTIL{Hostname="${faulty}"})`), 8);
        await client.delete("/api/v1/namespaces/default/pods/big?gracePeriodSeconds=0");
      },
    );

    await t.step("bad fault or memory annotations are reported as Warning Events and ignored", async () => {
      await annotate('{"0": {"xid": "abc"}}');
      const pod = gpuPod("bad-memory", 1, { [POOL_KEY]: "l40s" });
      (pod.metadata as Record<string, unknown>).annotations = { "fakegpu.io/simulated-gpu-memory": "lots" };
      await client.create("/api/v1/namespaces/default/pods", pod);
      const warning = async (namespace: string, name: string, reason: string) =>
        await waitFor(`${reason} event`, async () => {
          const { items } = await client.list<{ reason?: string; type?: string; message?: string }>(
            `/api/v1/namespaces/${namespace}/events`,
            { fieldSelector: `involvedObject.name=${name}` },
          );
          return items.find((e) => e.reason === reason && e.type === "Warning");
        });
      assert.match((await warning("default", faulty, "InvalidGpuFaults")).message ?? "", /0\.xid/);
      assert.match((await warning("default", "bad-memory", "InvalidGpuMemory")).message ?? "", /"lots"/);
      assert.equal(await allocatable(), "8", "a bad fault description changes nothing");
      assert.deepEqual(await prometheus.query("DCGM_FI_DEV_XID_ERRORS > 0"), []);
      await annotate(null);
      await client.delete("/api/v1/namespaces/default/pods/bad-memory?gracePeriodSeconds=0");
    });

    await t.step("absent(DCGM_FI_DEV_GPU_UTIL) fires when the exporter stops", async () => {
      await exporter.stop();
      await waitFor(
        "DcgmExporterDown fires",
        async () => (await prometheus.firingAlerts()).includes("DcgmExporterDown"),
        {
          timeoutMs: 30_000,
        },
      );
    });
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    client.close();
  }
});
