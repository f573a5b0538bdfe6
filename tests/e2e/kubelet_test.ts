/**
 * The real-kubelet test tier itself: a real kubelet with fakegpu's fake container runtime joins a test control
 * plane beside KWOK nodes, runs pods, and its runtime records what each container was created with.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startTestCluster, waitFor } from "../cluster/harness.ts";
import { startKubeletNode } from "../kubelet/node.ts";

interface NodeView {
  metadata: { name: string; annotations?: Record<string, string> };
  status?: { conditions?: { type: string; status: string }[] };
}

Deno.test("a real kubelet node joins beside KWOK nodes and runs a pod through the fake runtime", async () => {
  await using cluster = await startTestCluster({ kwokNodesOnly: true });
  await using node = await startKubeletNode(cluster, {
    name: "real-0",
    labels: { "example.com/tier": "real" },
  });
  await waitFor("node real-0 Ready", async () => {
    const n = JSON.parse(await cluster.kubectl("get", "node", "real-0", "-o", "json")) as NodeView;
    return n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  });
  await cluster.kubectlApply(JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "hello", namespace: "default" },
    spec: {
      nodeSelector: { "example.com/tier": "real" },
      containers: [{
        name: "main",
        image: "registry.invalid/hello:1",
        env: [{ name: "GREETING", value: "hi" }],
      }],
    },
  }));
  await waitFor("pod hello Running", async () => {
    const pod = JSON.parse(await cluster.kubectl("get", "pod", "hello", "-o", "json"));
    return pod.status?.phase === "Running";
  });
  const created = (await node.createdContainers()).filter((c) => c.pod === "hello");
  assert.equal(created.length, 1);
  assert.equal(created[0].envs.GREETING, "hi");
  // kwok-controller left the real node alone: no KWOK annotation was added.
  const n = JSON.parse(await cluster.kubectl("get", "node", "real-0", "-o", "json")) as NodeView;
  assert.equal(n.metadata.annotations?.["kwok.x-k8s.io/node"], undefined);
});
