/**
 * The simulated GPU fleet end to end on a real control plane: status-updater and the KWOK device plugin
 * run as child processes; the real kube-scheduler places GPU pods; KWOK runs them.
 */
import assert from "node:assert/strict";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { connect, type KubeClient } from "../../components/core/kube/client.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import { STATE_SELECTOR } from "../../components/core/node_state.ts";
import {
  createDefaultFleet,
  FLEET_NAMESPACE as NS,
  gpuCounts,
  gpuPod,
  holders,
  type Node,
  type Pod,
  podSpec,
  POOL_KEY,
} from "../cluster/fleet_fixtures.ts";

async function schedulingMessage(client: KubeClient, pod: string): Promise<string | undefined> {
  const { items } = await client.list<{ reason?: string; message?: string }>(
    "/api/v1/namespaces/default/events",
    {
      fieldSelector: `involvedObject.name=${pod}`,
    },
  );
  return items.find((e) => e.reason === "FailedScheduling")?.message;
}

async function runningGpuPods(client: KubeClient, selector: string): Promise<Pod[]> {
  const { items } = await client.list<Pod>("/api/v1/namespaces/default/pods", { labelSelector: selector });
  return items.filter((p) => p.status?.phase === "Running");
}

Deno.test("the simulated GPU fleet on a real control plane", async (t) => {
  await using cluster: TestCluster = await startTestCluster();
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-fleet-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const roles: RoleProcess[] = [];
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  const startRoles = async () => {
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    roles.push(await startRole("device-plugin", roleArgs, { logDir }));
  };
  const stopRoles = async (signal: Deno.Signal = "SIGTERM") => {
    await Promise.all(roles.splice(0).map((r) => r.stop(signal)));
  };
  try {
    const topology = parseTopologyYaml(DEFAULT_TOPOLOGY_YAML);
    const plan = fleetNodes(topology);
    const expected = Object.fromEntries(plan.map((p) => [p.name, String(p.gpus)]));

    await t.step("KWOK pool nodes get their pool's GPUs; other nodes are untouched", async () => {
      await createDefaultFleet(client);
      const handWritten = { cpu: "8", memory: "64Gi", pods: "110", "nvidia.com/gpu": "2" };
      await client.create("/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: "plain-0",
          labels: { "gpu-pool": "none" },
          annotations: { "kwok.x-k8s.io/node": "fake" },
        },
        status: { capacity: handWritten, allocatable: handWritten },
      });
      await startRoles();
      await waitFor("GPUs advertised on every pool node", async () => {
        const counts = await gpuCounts(client);
        return plan.every((p) => counts[p.name] === expected[p.name]) && counts;
      }, { timeoutMs: 90_000 });
      const { items } = await client.list<Node>("/api/v1/nodes");
      for (const node of items) {
        if (node.metadata.name === "plain-0") {
          assert.equal(node.status?.allocatable?.["nvidia.com/gpu"], "2");
          assert.equal(node.metadata.labels?.["nvidia.com/gpu.product"], undefined);
          continue;
        }
        assert.equal(node.status?.allocatable?.cpu, "96");
        assert.equal(node.status?.allocatable?.memory, "1Ti"); // 1024Gi, as the apiserver writes it
        assert.equal(node.status?.allocatable?.pods, "110");
        assert.equal(node.status?.capacity?.["nvidia.com/gpu"], expected[node.metadata.name]);
        assert.equal(node.spec?.taints?.length, 1);
        assert.equal(node.metadata.labels?.["gpu-pool"], node.metadata.labels?.[POOL_KEY]);
      }
    });

    await t.step("pool nodes carry GPU Feature Discovery labels that agree with allocatable", async () => {
      const node = await waitFor("GFD labels on kwok-h100-0", async () => {
        const n = await client.get<Node>("/api/v1/nodes/kwok-h100-0");
        return n?.metadata.labels?.["nvidia.com/gpu.product"] ? n : undefined;
      });
      const labels = node.metadata.labels!;
      assert.equal(labels["nvidia.com/gpu.product"], "NVIDIA-H100-80GB-HBM3");
      assert.equal(labels["nvidia.com/gpu.count"], node.status?.allocatable?.["nvidia.com/gpu"]);
      assert.equal(labels["nvidia.com/gpu.memory"], String(topology.pools.h100.model.memoryMiB));
      assert.equal(labels["nvidia.com/gpu.family"], "hopper");
      assert.equal(labels["nvidia.com/gpu.compute.major"], "9");
      assert.equal(labels["nvidia.com/cuda.driver-version.full"], topology.pools.h100.driverVersion);
      assert.equal(labels["nvidia.com/gpu.present"], "true");
    });

    await t.step("the real scheduler places GPU pods and reports why others stay Pending", async () => {
      await client.create("/api/v1/namespaces/default/pods", gpuPod("one-gpu", 1, { "gpu-pool": "a100" }));
      await client.create(
        "/api/v1/namespaces/default/pods",
        gpuPod("sixteen-gpus", 16, { "gpu-pool": "a100" }),
      );
      await client.create("/api/v1/namespaces/default/pods", gpuPod("wrong-pool", 1, { "gpu-pool": "b200" }));
      const running = await waitFor("one-gpu Running", async () => {
        const p = await client.get<Pod>("/api/v1/namespaces/default/pods/one-gpu");
        return p?.status?.phase === "Running" ? p : undefined;
      });
      assert.match(running.spec.nodeName ?? "", /^kwok-a100-/);
      const tooBig = await waitFor(
        "FailedScheduling for sixteen-gpus",
        () => schedulingMessage(client, "sixteen-gpus"),
      );
      assert.match(tooBig, /Insufficient nvidia\.com\/gpu/);
      const wrongPool = await waitFor(
        "FailedScheduling for wrong-pool",
        () => schedulingMessage(client, "wrong-pool"),
      );
      assert.match(wrongPool, /didn't match Pod's node affinity\/selector/);
      for (const name of ["sixteen-gpus", "wrong-pool"]) {
        const p = await client.get<Pod>(`/api/v1/namespaces/default/pods/${name}`);
        assert.equal(p?.status?.phase, "Pending");
        await client.delete(`/api/v1/namespaces/default/pods/${name}`);
      }
      const assigned = await waitFor("one-gpu's GPU in the node state", async () => {
        const h = await holders(client);
        return h.size === 1 ? h : undefined;
      });
      assert.deepEqual([...assigned.values()], [running.metadata.uid]);
    });

    await t.step("a 40-replica deployment fills exactly the free GPUs", async () => {
      await client.create("/apis/apps/v1/namespaces/default/deployments", {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "train", namespace: "default" },
        spec: {
          replicas: 40,
          selector: { matchLabels: { app: "train" } },
          template: { metadata: { labels: { app: "train" } }, spec: podSpec(1, { type: "kwok" }) },
        },
      });
      // 32 fleet GPUs, one held by one-gpu: 31 replicas run, 9 stay Pending (plain-0 is not selected).
      await waitFor("31 train pods Running and 9 Pending", async () => {
        const { items } = await client.list<Pod>("/api/v1/namespaces/default/pods", {
          labelSelector: "app=train",
        });
        const phases: Record<string, number> = {};
        for (const p of items) phases[p.status?.phase ?? "?"] = (phases[p.status?.phase ?? "?"] ?? 0) + 1;
        if (phases.Running === 31 && phases.Pending === 9) return true;
        throw new Error(
          `train pods by phase: ${JSON.stringify(phases)}; GPUs: ${JSON.stringify(await gpuCounts(client))}`,
        );
      }, { timeoutMs: 120_000 });
      const runningUids = new Set([
        ...(await runningGpuPods(client, "app=train")).map((p) => p.metadata.uid),
        (await client.get<Pod>("/api/v1/namespaces/default/pods/one-gpu"))!.metadata.uid,
      ]);
      const assigned = await waitFor("32 GPUs assigned in node states", async () => {
        const h = await holders(client);
        return h.size === 32 ? h : undefined;
      });
      assert.deepEqual(new Set(assigned.values()), runningUids);
    });

    await t.step("restarting the roles never drops a GPU count nor loses an assignment", async () => {
      const before = await holders(client);
      let sampling = true;
      let drops = 0;
      let samples = 0;
      const sampler = (async () => {
        while (sampling) {
          const counts = await gpuCounts(client);
          samples++;
          for (const p of plan) if (counts[p.name] !== expected[p.name]) drops++;
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      await stopRoles("SIGKILL");
      await new Promise((r) => setTimeout(r, 1000));
      await startRoles();
      // a second status-updater replica waits on the Lease and must not disturb anything
      await new Promise((r) => setTimeout(r, 2000));
      roles.push(await startRole("status-updater", roleArgs, { logDir }));
      await new Promise((r) => setTimeout(r, 6000));
      sampling = false;
      await sampler;
      assert.ok(samples > 20, `sampled ${samples} times`);
      assert.equal(drops, 0, "a node's GPU count dropped while the roles restarted");
      assert.deepEqual(await holders(client), before);
    });

    await t.step("in steady state the roles write nothing", async () => {
      const versions = async () => {
        const cms = await client.list<{ metadata: { name: string; resourceVersion: string } }>(
          `/api/v1/namespaces/${NS}/configmaps`,
          { labelSelector: STATE_SELECTOR },
        );
        const nodes = await client.list<
          { metadata: { name: string; managedFields?: { manager?: string; time?: string }[] } }
        >(
          "/api/v1/nodes",
        );
        return JSON.stringify([
          cms.items.map((c) => `${c.metadata.name}@${c.metadata.resourceVersion}`).sort(),
          nodes.items.map((n) =>
            (n.metadata.managedFields ?? []).filter((f) => f.manager?.startsWith("fakegpu"))
              .map((f) => `${n.metadata.name}/${f.manager}@${f.time}`)
          ).flat().sort(),
        ]);
      };
      const before = await versions();
      await new Promise((r) => setTimeout(r, 6000)); // several KWOK heartbeats
      assert.equal(await versions(), before);
    });

    await t.step("the standby status-updater takes over when the leader stops", async () => {
      const leader = await waitFor("a running status-updater holding the Lease", async () => {
        const lease = await client.get<{ spec?: { holderIdentity?: string } }>(
          `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/fakegpu-status-updater`,
        );
        const holder = lease?.spec?.holderIdentity ?? "";
        return roles.find((r) => r.role === "status-updater" && holder.endsWith(`-${r.pid}`));
      }, { timeoutMs: 30_000 });
      roles.splice(roles.indexOf(leader), 1);
      await leader.stop();
      await client.delete("/apis/apps/v1/namespaces/default/deployments/train");
      await waitFor(
        "the standby frees the deployment's GPUs",
        async () => (await holders(client)).size === 1,
        {
          timeoutMs: 120_000,
        },
      );
    });

    await t.step("GPUs are freed when pods go", async () => {
      await client.delete("/api/v1/namespaces/default/pods/one-gpu");
      await waitFor("every GPU free in the node states", async () => (await holders(client)).size === 0, {
        timeoutMs: 120_000,
      });
    });

    await t.step("relabelled nodes follow their new pool; unlabelled nodes lose their GPUs", async () => {
      await client.mergePatch("/api/v1/nodes/kwok-l40s-1", {
        metadata: { labels: { [POOL_KEY]: "h100", "gpu-pool": "h100" } },
      });
      await client.mergePatch("/api/v1/nodes/kwok-l40s-0", { metadata: { labels: { [POOL_KEY]: null } } });
      await waitFor("kwok-l40s-1 advertised as an h100 node", async () => {
        const n = await client.get<Node>("/api/v1/nodes/kwok-l40s-1");
        return n?.status?.allocatable?.["nvidia.com/gpu"] === "8" &&
          n.metadata.labels?.["nvidia.com/gpu.product"] === "NVIDIA-H100-80GB-HBM3";
      });
      const left = await waitFor("kwok-l40s-0 without GPUs and GPU labels", async () => {
        const n = await client.get<Node>("/api/v1/nodes/kwok-l40s-0");
        const gpuLabels = Object.keys(n?.metadata.labels ?? {}).filter((k) => k.startsWith("nvidia.com/"));
        return n?.status?.allocatable?.["nvidia.com/gpu"] === undefined && gpuLabels.length === 0
          ? n
          : undefined;
      });
      assert.equal(left.status?.allocatable?.cpu, "96");
      assert.equal(left.metadata.labels?.["gpu-pool"], "l40s");
      const plain = await client.get<Node>("/api/v1/nodes/plain-0");
      assert.equal(plain?.status?.allocatable?.["nvidia.com/gpu"], "2");
    });

    await t.step("a topology ConfigMap edit applies without a restart", async () => {
      const edited = DEFAULT_TOPOLOGY_YAML.replace(/(a100:[\s\S]*?gpuCount:\s*)8/, "$14");
      assert.notEqual(edited, DEFAULT_TOPOLOGY_YAML);
      await client.mergePatch(`/api/v1/namespaces/${NS}/configmaps/topology`, {
        data: { "topology.yml": edited },
      });
      await waitFor("a100 nodes advertise 4 GPUs", async () => {
        const counts = await gpuCounts(client);
        return counts["kwok-a100-0"] === "4" && counts["kwok-a100-1"] === "4";
      });
      const n = await client.get<Node>("/api/v1/nodes/kwok-a100-0");
      assert.equal(n?.metadata.labels?.["nvidia.com/gpu.count"], "4");
    });

    await t.step("an invalid topology edit is reported and the last good one stays in force", async () => {
      const broken = DEFAULT_TOPOLOGY_YAML.replace(/(h100:[\s\S]*?gpuCount:\s*)8/, '$1"eight"');
      await client.mergePatch(`/api/v1/namespaces/${NS}/configmaps/topology`, {
        data: { "topology.yml": broken },
      });
      const message = await waitFor("an InvalidTopology event", async () => {
        const { items } = await client.list<{ reason?: string; message?: string }>(
          `/api/v1/namespaces/${NS}/events`,
          { fieldSelector: "involvedObject.name=topology" },
        );
        return items.find((e) => e.reason === "InvalidTopology")?.message;
      });
      assert.match(message, /nodePools\.h100\.gpuCount: expected a positive integer, got "eight"/);
      await new Promise((r) => setTimeout(r, 2000));
      const counts = await gpuCounts(client);
      assert.equal(counts["kwok-h100-0"], "8");
      assert.equal(counts["kwok-a100-0"], "4");
    });

    await t.step(
      "a pod with a bad utilization annotation still gets its GPU and a Warning event",
      async () => {
        const pod = gpuPod("bad-annotation", 1, { "gpu-pool": "h100" });
        (pod.metadata as Record<string, unknown>).annotations = {
          "run.ai/simulated-gpu-utilization": "80-20",
        };
        await client.create("/api/v1/namespaces/default/pods", pod);
        const uid = await waitFor("bad-annotation Running", async () => {
          const p = await client.get<Pod>("/api/v1/namespaces/default/pods/bad-annotation");
          return p?.status?.phase === "Running" ? p.metadata.uid : undefined;
        });
        await waitFor(
          "bad-annotation's GPU in the node state",
          async () => [...(await holders(client)).values()].includes(uid),
        );
        const { items } = await client.list<{ reason?: string; message?: string; type?: string }>(
          "/api/v1/namespaces/default/events",
          { fieldSelector: "involvedObject.name=bad-annotation" },
        );
        const warning = items.find((e) => e.reason === "InvalidGpuUtilization");
        assert.equal(warning?.type, "Warning");
        assert.match(warning?.message ?? "", /range start 80 exceeds its end 20, got "80-20"/);
      },
    );
  } finally {
    await stopRoles();
    client.close();
    if (Deno.env.get("FAKEGPU_KEEP_LOGS")) console.error(`role logs kept in ${logDir}`);
    else await Deno.remove(logDir, { recursive: true });
  }
});
