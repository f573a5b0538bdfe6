/**
 * `device-plugin --node-scope this-node` against a real kubelet, in a mixed cluster: the default KWOK fleet
 * served by status-updater and the KWOK-scope device plugin, plus one real-kubelet node of pool a100 whose
 * GPUs the node-scope plugin registers on `kubelet.sock`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startTestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import {
  createDefaultFleet,
  FLEET_NAMESPACE as NS,
  gpuCounts,
  gpuPod,
  POOL_KEY,
} from "../cluster/fleet_fixtures.ts";
import { startKubeletNode } from "../kubelet/node.ts";
import { freePort } from "../cluster/prometheus.ts";
import { connect } from "../../components/core/kube/client.ts";
import { DEFAULT_TOPOLOGY_YAML } from "../../components/core/topology_config.ts";
import { decodeNodeState, stateConfigMapName } from "../../components/core/node_state.ts";

const REAL = "real-a100-0";
const NVIDIA_SMI = "/opt/fakegpu/nvidia-smi";

interface NodeView {
  metadata: { managedFields?: { manager: string; subresource?: string }[] };
  status?: { capacity?: Record<string, string>; allocatable?: Record<string, string> };
}

Deno.test("device-plugin this-node: a real kubelet runs GPU pods with the node's GPU UUIDs", async (t) => {
  await using cluster = await startTestCluster({ kwokNodesOnly: true });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-kubelet-e2e-" });
  const roles: RoleProcess[] = [];
  try {
    const kwokNodes = (await createDefaultFleet(client)).map((p) => p.name);
    const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    roles.push(await startRole("device-plugin", roleArgs, { logDir }));
    await using node = await startKubeletNode(cluster, { name: REAL, labels: { [POOL_KEY]: "a100" } });
    const health = `127.0.0.1:${freePort()}`;
    const plugin = node.startRole("device-plugin", [
      ...roleArgs,
      "--node-scope",
      "this-node",
      "--health-address",
      health,
      "--nvidia-smi-host-path",
      NVIDIA_SMI,
    ]);
    /** Waits until the pod is Running; a timeout names its phase, reason and conditions. */
    const runningPod = (name: string) =>
      waitFor(`${name} Running`, async () => {
        const p = await client.get<{ metadata: { uid: string }; status?: Record<string, unknown> }>(
          `/api/v1/namespaces/default/pods/${name}`,
        );
        if (p?.status?.phase === "Running") return p;
        throw new Error(JSON.stringify(p?.status ?? "no pod"));
      });
    const resources = async () =>
      ((await client.get<NodeView>(`/api/v1/nodes/${REAL}`))?.status ?? {}) as Required<NodeView>["status"];
    const state = async () => {
      const cm = await client.get<{ data?: Record<string, string> }>(
        `/api/v1/namespaces/${NS}/configmaps/${stateConfigMapName(REAL)}`,
      );
      return cm?.data?.["state.yaml"] ? decodeNodeState(cm.data["state.yaml"]) : undefined;
    };

    await t.step("capacity equals the pool's GPU count; /health answers ok", async () => {
      await waitFor(
        "real node capacity nvidia.com/gpu 8",
        async () =>
          (await resources()).capacity?.["nvidia.com/gpu"] === "8" &&
          (await resources()).allocatable?.["nvidia.com/gpu"] === "8",
      );
      const res = await fetch(`http://${health}/health`);
      assert.equal(res.status, 200, await res.text());
    });

    await t.step(
      "a 2-GPU pod is Running; NVIDIA_VISIBLE_DEVICES names the GPUs the node state records for it",
      async () => {
        await cluster.kubectlApply(JSON.stringify(gpuPod("train", 2, { "kubernetes.io/hostname": REAL })));
        const pod = await runningPod("train");
        const created = (await node.createdContainers()).filter((c) => c.pod === "train");
        assert.equal(created.length, 1);
        const visible = created[0].envs.NVIDIA_VISIBLE_DEVICES.split(",");
        assert.equal(visible.length, 2);
        const uuids = (await state())!.devices.map((d) => d.uuid);
        for (const id of visible) assert.ok(uuids.includes(id), `${id} is not a GPU of ${REAL}`);
        assert.equal(created[0].envs.NODE_NAME, REAL);
        assert.deepEqual(created[0].mounts.filter((m) => m.hostPath === NVIDIA_SMI), [
          { containerPath: "/usr/bin/nvidia-smi", hostPath: NVIDIA_SMI, readOnly: true },
        ]);
        // The plugin recorded the kubelet's choice on the pod, and the node state follows it exactly.
        await waitFor("the kubelet's GPUs recorded on the pod", async () => {
          const p = await client.get<{ metadata: { annotations?: Record<string, string> } }>(
            "/api/v1/namespaces/default/pods/train",
          );
          return p?.metadata.annotations?.["fakegpu.io/kubelet-gpus"] === [...visible].sort().join(",");
        });
        await waitFor("the node state to record train on the kubelet's GPUs", async () => {
          const held = (await state())?.devices.filter((d) =>
            d.holders?.some((h) => h.podUid === pod.metadata.uid)
          );
          return JSON.stringify(held?.map((d) => d.uuid).sort()) === JSON.stringify([...visible].sort());
        });
      },
    );

    await t.step("a fault lowers allocatable by one and clearing it restores it", async () => {
      await cluster.kubectl(
        "annotate",
        "node",
        REAL,
        "--overwrite",
        'fakegpu.io/gpu-faults={"3": {"xid": 79}}',
      );
      await waitFor("allocatable 7", async () => (await resources()).allocatable?.["nvidia.com/gpu"] === "7");
      assert.equal((await resources()).capacity?.["nvidia.com/gpu"], "8");
      await cluster.kubectl("annotate", "node", REAL, "fakegpu.io/gpu-faults-");
      await waitFor("allocatable 8", async () => (await resources()).allocatable?.["nvidia.com/gpu"] === "8");
    });

    await t.step("after a kubelet restart the plugin registers again without restarting", async () => {
      const registrations = async () =>
        (await Deno.readTextFile(plugin.logFile)).split("Registered device plugin for 'nvidia.com/gpu'")
          .length - 1;
      const before = await registrations();
      await node.restartKubelet();
      await waitFor(
        "the plugin to notice the new kubelet.sock and register again",
        async () =>
          (await Deno.readTextFile(plugin.logFile)).includes("kubelet restarted: registering again") &&
          await registrations() > before,
      );
      await waitFor("capacity 8 and allocatable 8 from the restarted kubelet", async () => {
        const r = await resources();
        return r.capacity?.["nvidia.com/gpu"] === "8" && r.allocatable?.["nvidia.com/gpu"] === "8";
      });
      let exited = false;
      plugin.exited.then(() => exited = true);
      await Promise.resolve();
      assert.equal(exited, false, "the plugin process kept running");
    });

    await t.step(
      "mixed cluster: KWOK nodes advertised centrally, the real node never written by it",
      async () => {
        await waitFor("every KWOK node advertised", async () => {
          const counts = await gpuCounts(client);
          return kwokNodes.every((n) => counts[n] !== undefined && counts[n] !== "0");
        });
        const real = await client.get<NodeView>(`/api/v1/nodes/${REAL}`);
        const managers = (real?.metadata.managedFields ?? []).map((f) => f.manager);
        assert.ok(!managers.includes("fakegpu-device-plugin"), `managers: ${managers.join(", ")}`);
      },
    );

    await t.step(
      "replicas: 4 on the a100 pool: capacity 32 on the real and KWOK nodes, plain UUIDs in the env",
      async () => {
        await client.mergePatch(`/api/v1/namespaces/${NS}/configmaps/topology`, {
          data: {
            "topology.yml": DEFAULT_TOPOLOGY_YAML.replace(
              "    gpuCount: 8\n",
              "    gpuCount: 8\n    replicas: 4\n",
            ),
          },
        });
        await waitFor("32 nvidia.com/gpu on every a100 node", async () => {
          const counts = await gpuCounts(client);
          return [REAL, "kwok-a100-0", "kwok-a100-1"].every((n) => counts[n] === "32");
        });
        const labels =
          (await client.get<{ metadata: { labels?: Record<string, string> } }>(`/api/v1/nodes/${REAL}`))
            ?.metadata.labels;
        assert.equal(labels?.["nvidia.com/gpu.replicas"], "4");
        assert.equal(labels?.["nvidia.com/gpu.sharing-strategy"], "time-slicing");
        await cluster.kubectlApply(JSON.stringify(gpuPod("sliced", 3, { "kubernetes.io/hostname": REAL })));
        await runningPod("sliced");
        const created = (await node.createdContainers()).find((c) => c.pod === "sliced")!;
        const uuids = (await state())!.devices.map((d) => d.uuid);
        const visible = created.envs.NVIDIA_VISIBLE_DEVICES.split(",");
        assert.ok(
          visible.length >= 1 && visible.every((id) => uuids.includes(id)),
          created.envs.NVIDIA_VISIBLE_DEVICES,
        );
      },
    );
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    client[Symbol.dispose]();
    if (Deno.env.get("FAKEGPU_KEEP_LOGS")) console.error(`role logs kept in ${logDir}`);
    else await Deno.remove(logDir, { recursive: true });
  }
});
