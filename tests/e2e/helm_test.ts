/**
 * The Helm chart on a real control plane: every rendered manifest passes the API server's dry run; the chart
 * installs with fake-gpu-operator's `--set` line; each role runs as a local process with the command line
 * the chart gives it, authenticated only with its own ServiceAccount's token, and the fleet works (proving
 * the RBAC is enough); each role's rights match the documented list; upgrades apply live; uninstall leaves
 * nothing behind.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { ROLES } from "../../main.ts";
import { connect, type KubeClient } from "../../components/core/kube/client.ts";
import { STATE_SELECTOR } from "../../components/core/node_state.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import { isProcessAlive, runKubectl } from "../../components/local_fleet/control_plane.ts";
import { findControlPlaneBinDir, startTestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { freePort } from "../cluster/prometheus.ts";
import { gpuCounts, gpuPod, holders, type Node, type Pod, POOL_KEY } from "../cluster/fleet_fixtures.ts";
import {
  caseArgs,
  CHART_DIR,
  CHART_ROLES,
  helm,
  LEGACY_SET_ARGS,
  RELEASE as NS,
  RENDER_CASES,
  renderChartText,
} from "../helm/chart_fixtures.ts";
import { EXPECTED_PERMISSIONS, parseCanIList } from "../helm/rbac_expectations.ts";

interface Deployment {
  metadata: { generation: number };
  spec: { template: { spec: { containers: { args: string[] }[] } } };
}

/** A kubeconfig for `serviceAccount`, holding only a token from the TokenRequest API and the cluster CA. */
async function serviceAccountKubeconfig(
  admin: KubeClient,
  cluster: { server: string; clusterDir: string },
  serviceAccount: string,
  dir: string,
): Promise<string> {
  const request = await admin.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${NS}/serviceaccounts/${serviceAccount}/token`,
    { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
  );
  const file = `${dir}/${serviceAccount}.kubeconfig`;
  await Deno.writeTextFile(
    file,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "test",
        cluster: { server: cluster.server, "certificate-authority": `${cluster.clusterDir}/pki/ca.crt` },
      }],
      users: [{ name: serviceAccount, user: { token: request.status.token } }],
      contexts: [{ name: "test", context: { cluster: "test", user: serviceAccount } }],
      "current-context": "test",
    }),
  );
  return file;
}

Deno.test("the Helm chart installs, runs, upgrades and uninstalls fakegpu", async (t) => {
  const binDir = await findControlPlaneBinDir();
  await using cluster = await startTestCluster({ binDir });
  const tmp = await Deno.makeTempDir({ prefix: "fakegpu-helm-e2e-" });
  const admin = await connect({ kubeconfig: cluster.kubeconfigPath });
  const helmHere = (args: string[]) => helm(binDir, [...args, "--kubeconfig", cluster.kubeconfigPath]);
  const plan = fleetNodes(parseTopologyYaml(DEFAULT_TOPOLOGY_YAML));
  const expected = Object.fromEntries(plan.map((p) => [p.name, String(p.gpus)]));
  const exporterPort = freePort();
  const roles: RoleProcess[] = [];
  const startChartRole = async (chartRole: (typeof CHART_ROLES)[number]) => {
    const deployment = await admin.get<Deployment>(
      `/apis/apps/v1/namespaces/${NS}/deployments/${chartRole.deployment}`,
    );
    const [role, ...args] = deployment!.spec.template.spec.containers[0].args;
    const kubeconfig = await serviceAccountKubeconfig(admin, cluster, chartRole.serviceAccount, tmp);
    args.push(`--kubeconfig=${kubeconfig}`);
    if (role === "dcgm-exporter") args.push(`--address=127.0.0.1:${exporterPort}`);
    roles.push(await startRole(role, args, { logDir: tmp }));
  };
  // Roles of the chart that main.ts has (dcgm-exporter and dra-plugin land in their own issues).
  const runnable = CHART_ROLES.filter((r) => r.role in ROLES);
  try {
    await t.step("every rendered manifest is accepted by the API server (dry run)", async () => {
      await cluster.kubectl("create", "namespace", NS);
      for (const renderCase of RENDER_CASES) {
        const manifest = await renderChartText(binDir, await caseArgs(renderCase, tmp));
        await runKubectl(cluster, ["apply", "--dry-run=server", "-f", "-"], manifest);
      }
    });

    await t.step("helm upgrade -i with fake-gpu-operator's --set line", async () => {
      await helmHere(["upgrade", "-i", NS, CHART_DIR, "-n", NS, "--create-namespace", ...LEGACY_SET_ARGS]);
      for (const p of plan) await admin.create("/api/v1/nodes", p.object);
    });

    await t.step("each role runs on its own ServiceAccount's token; the fleet comes up", async () => {
      for (const role of runnable.filter((r) => r.defaultOn)) await startChartRole(role);
      await waitFor("GPUs advertised on every pool node", async () => {
        const counts = await gpuCounts(admin);
        return plan.every((p) => counts[p.name] === expected[p.name]);
      }, { timeoutMs: 90_000 });
      const node = await waitFor("GFD labels on kwok-h100-0", async () => {
        const n = await admin.get<Node>("/api/v1/nodes/kwok-h100-0");
        return n?.metadata.labels?.["nvidia.com/gpu.product"] ? n : undefined;
      });
      assert.equal(node.metadata.labels?.["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3");
      assert.equal(node.metadata.labels?.["nvidia.com/gpu.count"], "8");
    });

    await t.step("GPU pods schedule, and a pod with runtimeClassName nvidia runs", async () => {
      await admin.create("/api/v1/namespaces/default/pods", gpuPod("one-gpu", 1, { "gpu-pool": "a100" }));
      const kai = gpuPod("kai-style", 1, { "gpu-pool": "h100" }) as { spec: Record<string, unknown> };
      kai.spec.runtimeClassName = "nvidia";
      await admin.create("/api/v1/namespaces/default/pods", kai);
      for (const [name, pool] of [["one-gpu", "a100"], ["kai-style", "h100"]]) {
        const pod = await waitFor(`${name} Running`, async () => {
          const p = await admin.get<Pod>(`/api/v1/namespaces/default/pods/${name}`);
          return p?.status?.phase === "Running" ? p : undefined;
        });
        assert.match(pod.spec.nodeName ?? "", new RegExp(`^kwok-${pool}-`));
      }
      await waitFor("both pods hold a GPU in the node states", async () => (await holders(admin)).size === 2);
    });

    if (runnable.some((r) => r.role === "dcgm-exporter")) {
      await t.step("the exporter serves a series per GPU, the held ones with their pod", async () => {
        const metrics = await waitFor("exporter series for every GPU and for one-gpu", async () => {
          const text = await (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).text();
          const util = text.split("\n").filter((l) => l.startsWith("DCGM_FI_DEV_GPU_UTIL{"));
          return util.length === plan.reduce((n, p) => n + p.gpus, 0) &&
            util.some((l) => l.includes('pod="one-gpu"')) && util;
        });
        for (const p of plan) assert.ok(metrics.some((l) => l.includes(`Hostname="${p.name}"`)), p.name);
      });
    }

    await t.step("helm upgrade of a pool's gpuCount re-advertises live, restarting nothing", async () => {
      const generations = async () => {
        const { items } = await admin.list<Deployment>(`/apis/apps/v1/namespaces/${NS}/deployments`);
        return items.map((d) => d.metadata.generation);
      };
      const before = await generations();
      await helmHere([
        "upgrade",
        NS,
        CHART_DIR,
        "-n",
        NS,
        "--reuse-values",
        "--set",
        "topology.nodePools.a100.gpuCount=4",
      ]);
      await waitFor("a100 nodes advertise 4 GPUs", async () => {
        const counts = await gpuCounts(admin);
        return counts["kwok-a100-0"] === "4" && counts["kwok-a100-1"] === "4" &&
          counts["kwok-h100-0"] === "8";
      });
      assert.deepEqual(await generations(), before, "a Deployment changed, so its pods would restart");
      for (const role of roles) assert.ok(await isProcessAlive(role.pid), `${role.role} restarted or died`);
    });

    await t.step("turning on the DRA plugin and DRA offers later publishes every node's slice", async () => {
      const dra = ["--set", "draPlugin.enabled=true", "--set", "topology.gpuOffer=both"];
      await helmHere(["upgrade", NS, CHART_DIR, "-n", NS, "--reuse-values", ...dra]);
      const plugin = runnable.find((r) => r.role === "dra-plugin");
      if (!plugin) return;
      await startChartRole(plugin);
      await waitFor("a ResourceSlice for every pool node", async () => {
        const { items } = await admin.list<{ spec: { nodeName?: string } }>(
          "/apis/resource.k8s.io/v1/resourceslices",
        );
        return plan.every((p) => items.some((s) => s.spec.nodeName === p.name));
      });
    });

    await t.step("no role was ever refused by the API server", async () => {
      for (const role of roles) {
        const text = await Deno.readTextFile(role.logFile);
        assert.doesNotMatch(text, /\b403\b|forbidden/i, `${role.role} was refused:\n${text.slice(-2000)}`);
      }
    });

    await t.step("each ServiceAccount has exactly the documented rights", async () => {
      const canI = async (who: string, namespace: string) =>
        parseCanIList(await cluster.kubectl("auth", "can-i", "--list", "-n", namespace, `--as=${who}`));
      const account = (name: string) => `system:serviceaccount:${NS}:${name}`;
      for (const namespace of [NS, "default"]) {
        const baseline = new Set(await canI(account("nobody"), namespace));
        for (const role of CHART_ROLES) {
          const rights = (await canI(account(role.serviceAccount), namespace)).filter((l) =>
            !baseline.has(l)
          );
          const want = EXPECTED_PERMISSIONS[role.role];
          assert.deepEqual(
            rights,
            namespace === NS ? want.inNamespace : want.elsewhere,
            `${role.role} in ${namespace}`,
          );
        }
      }
    });

    await t.step("helm upgrade --reuse-values to a later chart version with a new key", async () => {
      const later = `${tmp}/fakegpu-later`;
      await new Deno.Command("cp", { args: ["-r", CHART_DIR, later] }).output();
      const chartYaml = await Deno.readTextFile(`${later}/Chart.yaml`);
      await Deno.writeTextFile(`${later}/Chart.yaml`, chartYaml.replace(/^version: .*$/m, "version: 0.2.0"));
      await Deno.writeTextFile(`${later}/values.yaml`, "laterFeature:\n  enabled: true\n", { append: true });
      const schema = JSON.parse(await Deno.readTextFile(`${later}/values.schema.json`));
      schema.properties.laterFeature = { type: "object" };
      await Deno.writeTextFile(`${later}/values.schema.json`, JSON.stringify(schema));
      await Deno.writeTextFile(
        `${later}/templates/later-feature.yaml`,
        "{{- if (.Values.laterFeature | default dict).enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: later-feature, namespace: {{ .Release.Namespace }}}\n{{- end }}\n",
      );
      await helmHere(["upgrade", NS, later, "-n", NS, "--reuse-values"]);
      const [release] = JSON.parse(await helmHere(["list", "-n", NS, "-o", "json"]));
      assert.equal(release.status, "deployed");
      assert.equal(release.chart, "fakegpu-0.2.0");
      assert.equal((await gpuCounts(admin))["kwok-a100-0"], "4", "the reused --set topology was kept");
      assert.equal(await admin.get(`/api/v1/namespaces/${NS}/configmaps/later-feature`), undefined);
    });

    await t.step(
      "helm uninstall runs fakegpu cleanup while the roles still run, and leaves nothing behind",
      async () => {
        const uninstall = helmHere(["uninstall", NS, "-n", NS, "--wait", "--timeout", "3m"]);
        // The pre-delete hook Job's pod stays Pending (KWOK nodes are tainted); its container, `fakegpu
        // cleanup`, runs here with the hook's own ServiceAccount, then the pod is marked Succeeded.
        const job = await waitFor(
          "the cleanup hook Job",
          () => admin.get<Deployment>(`/apis/batch/v1/namespaces/${NS}/jobs/fakegpu-cleanup`),
        );
        const [role, ...args] = job.spec.template.spec.containers[0].args;
        const kubeconfig = await serviceAccountKubeconfig(admin, cluster, "fakegpu-cleanup", tmp);
        const cleanup = await startRole(role, [...args, `--kubeconfig=${kubeconfig}`], { logDir: tmp });
        assert.equal(await cleanup.exited, 0, await Deno.readTextFile(cleanup.logFile));
        const { items: nodes } = await admin.list<Node>("/api/v1/nodes");
        const marked = nodes.filter((n) =>
          Object.keys(n.metadata.labels ?? {}).some((l) => l.startsWith("nvidia.com/")) ||
          n.status?.capacity?.["nvidia.com/gpu"] !== undefined
        );
        assert.deepEqual(marked.map((n) => n.metadata.name), [], "no fakegpu label or resource on any node");
        assert.ok(
          nodes.every((n) => n.metadata.labels?.[POOL_KEY] !== undefined),
          "the user's pool labels stay",
        );
        const states = await admin.list(`/api/v1/namespaces/${NS}/configmaps`, {
          labelSelector: STATE_SELECTOR,
        });
        assert.equal(states.items.length, 0);
        assert.equal((await admin.list("/apis/resource.k8s.io/v1/resourceslices")).items.length, 0);
        for (const r of roles) {
          assert.ok(await isProcessAlive(r.pid), `${r.role} ran on; its Lease kept it quiet`);
        }
        const { items: pods } = await admin.list<Pod>(`/api/v1/namespaces/${NS}/pods`, {
          labelSelector: "job-name=fakegpu-cleanup",
        });
        for (const pod of pods) {
          await admin.mergePatch(`/api/v1/namespaces/${NS}/pods/${pod.metadata.name}/status`, {
            status: { phase: "Succeeded" },
          });
        }
        await uninstall;
        await new Promise((r) => setTimeout(r, 3000));
        const after = await admin.list<Node>("/api/v1/nodes");
        assert.ok(
          after.items.every((n) => n.status?.capacity?.["nvidia.com/gpu"] === undefined),
          "nothing came back after the release was gone",
        );
        await Promise.all(roles.splice(0).map((r) => r.stop()));
        const left = await cluster.kubectl(
          "get",
          "all,configmaps,serviceaccounts,roles,rolebindings,leases,clusterroles,clusterrolebindings,runtimeclasses,deviceclasses",
          "-A",
          "-o",
          "name",
          "-l",
          `app.kubernetes.io/instance=${NS}`,
        );
        assert.equal(left.trim(), "");
        const configMaps = await cluster.kubectl("get", "configmaps", "-n", NS, "-o", "name");
        assert.equal(configMaps.trim(), "configmap/kube-root-ca.crt");
        assert.equal((await cluster.kubectl("get", "leases", "-n", NS, "-o", "name")).trim(), "");
      },
    );
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    admin.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
