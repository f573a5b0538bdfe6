/**
 * `dra-plugin --node-scope this-node` against a real kubelet: the node's ResourceSlice, registration with the
 * kubelet's plugin watcher, NodePrepareResources writing a CDI spec whose device ids reach CreateContainer, and
 * NodeUnprepareResources after a plugin restart (the checkpoint keeps the prepared claim).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { startTestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { createTopology, FLEET_NAMESPACE as NS, POOL_KEY } from "../cluster/fleet_fixtures.ts";
import { startKubeletNode } from "../kubelet/node.ts";
import { connect } from "../../components/core/kube/client.ts";
import { decodeNodeState, stateConfigMapName } from "../../components/core/node_state.ts";
import { DEFAULT_TOPOLOGY_YAML } from "../../components/core/topology_config.ts";

const REAL = "real-dra-0";

interface PodView {
  metadata: { uid: string };
  status?: { phase?: string; resourceClaimStatuses?: { name: string; resourceClaimName?: string }[] };
}

Deno.test("dra-plugin this-node: a real kubelet prepares a GPU claim through CDI and unprepares it", async () => {
  await using cluster = await startTestCluster({ kwokNodesOnly: true });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-kubelet-dra-e2e-" });
  const roles: RoleProcess[] = [];
  try {
    await createTopology(client, `gpuOffer: dra\n${DEFAULT_TOPOLOGY_YAML}`);
    const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    await using node = await startKubeletNode(cluster, { name: REAL, labels: { [POOL_KEY]: "a100" } });
    const cdiRoot = `${node.scratch}/cdi`;
    const startPlugin = () =>
      node.startRole("dra-plugin", [
        ...roleArgs,
        "--node-scope",
        "this-node",
        "--cdi-root",
        cdiRoot,
        "--nvidia-smi-host-path",
        "/opt/fakegpu/nvidia-smi",
      ]);
    let plugin = startPlugin();
    await waitFor(
      "the kubelet to register the DRA plugin",
      async () =>
        (await Deno.readTextFile(plugin.logFile)).includes("DRA plugin registered with the kubelet"),
    );
    await waitFor(`${REAL}'s ResourceSlice`, async () => {
      const { items } = await client.list<{ spec: { nodeName?: string } }>(
        "/apis/resource.k8s.io/v1/resourceslices",
      );
      return items.some((s) => s.spec.nodeName === REAL);
    });

    await cluster.kubectlApply(JSON.stringify({
      apiVersion: "resource.k8s.io/v1",
      kind: "ResourceClaimTemplate",
      metadata: { name: "one-gpu", namespace: "default" },
      spec: {
        spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com" } }] } },
      },
    }));
    await cluster.kubectlApply(JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "dra-train", namespace: "default" },
      spec: {
        nodeSelector: { "kubernetes.io/hostname": REAL },
        containers: [{ name: "main", image: "cuda:fake", resources: { claims: [{ name: "gpu" }] } }],
        resourceClaims: [{ name: "gpu", resourceClaimTemplateName: "one-gpu" }],
      },
    }));
    const pod = await waitFor("dra-train Running", async () => {
      const p = await client.get<PodView>("/api/v1/namespaces/default/pods/dra-train");
      if (p?.status?.phase === "Running") return p;
      throw new Error(JSON.stringify(p?.status ?? "no pod"));
    });
    const claimName = pod.status!.resourceClaimStatuses![0].resourceClaimName!;
    const claim = (await client.get<{
      metadata: { uid: string };
      status: { allocation: { devices: { results: { device: string }[] } } };
    }>(`/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/${claimName}`))!;
    const device = claim.status.allocation.devices.results[0].device;
    const cdiId = `k8s.gpu.nvidia.com/claim=${claim.metadata.uid}-${device}`;

    // The CDI device id reached the runtime's CreateContainer request.
    const created = (await node.createdContainers()).find((c) => c.pod === "dra-train")!;
    assert.deepEqual(created.cdiDevices, [cdiId]);
    // The spec file injects the GPU's UUID from the node state and the node name.
    const cm = await client.get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${NS}/configmaps/${stateConfigMapName(REAL)}`,
    );
    const uuid = decodeNodeState(cm!.data["state.yaml"]).devices.find((d) =>
      `gpu-${d.index}` === device
    )!.uuid;
    const specFile = `${cdiRoot}/k8s.gpu.nvidia.com-claim_${claim.metadata.uid}.yaml`;
    const spec = parseYaml(await Deno.readTextFile(specFile)) as {
      kind: string;
      containerEdits: {
        env: string[];
        mounts: { hostPath: string; containerPath: string; options: string[] }[];
      };
      devices: { name: string }[];
    };
    assert.equal(spec.kind, "k8s.gpu.nvidia.com/claim");
    assert.deepEqual(spec.devices.map((d) => d.name), [`${claim.metadata.uid}-${device}`]);
    assert.ok(
      spec.containerEdits.env.includes(`NVIDIA_VISIBLE_DEVICES=${uuid}`),
      spec.containerEdits.env.join(" "),
    );
    assert.ok(spec.containerEdits.env.includes(`NODE_NAME=${REAL}`));
    assert.deepEqual(
      spec.containerEdits.mounts.map((m) => [m.hostPath, m.containerPath, m.options.includes("ro")]),
      [["/opt/fakegpu/nvidia-smi", "/usr/bin/nvidia-smi", true]],
    );

    // Restart the plugin between prepare and unprepare: the checkpoint remembers the claim.
    await plugin.stop();
    plugin = startPlugin();
    await waitFor("the restarted DRA plugin registered", async () =>
      (await Deno.readTextFile(plugin.logFile)).includes("DRA plugin registered with the kubelet"));
    await client.delete("/api/v1/namespaces/default/pods/dra-train");
    await waitFor("the claim unprepared and its CDI spec removed", async () =>
      (await Deno.readTextFile(plugin.logFile)).includes("claim unprepared") &&
      !(await Deno.stat(specFile).then(() =>
        true, () =>
        false)));
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    client[Symbol.dispose]();
    if (Deno.env.get("FAKEGPU_KEEP_LOGS")) console.error(`role logs kept in ${logDir}`);
    else await Deno.remove(logDir, { recursive: true });
  }
});
