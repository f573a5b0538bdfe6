/**
 * The local control plane against real Kubernetes components: the real kube-scheduler places pods by
 * an extended resource, KWOK runs them, and stop() leaves nothing behind.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isProcessAlive, portOf, readComponentPids } from "../../components/local_fleet/control_plane.ts";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";

const NODE = "widget-node-0";
const WIDGET = "example.com/widget";

interface PodView {
  spec: { nodeName?: string };
  status: { phase?: string };
}

interface EventList {
  items: { reason: string; message: string }[];
}

function widgetPod(name: string, widgets: number): string {
  const amount = { [WIDGET]: String(widgets) };
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      containers: [{
        name: "main",
        image: "registry.invalid/fakegpu/widget-user:1",
        resources: { requests: amount, limits: amount },
      }],
    },
  });
}

async function getPod(cluster: TestCluster, name: string): Promise<PodView> {
  return JSON.parse(await cluster.kubectl("get", "pod", name, "--namespace", "default", "-o", "json"));
}

Deno.test("real scheduler binds a widget pod to the node with widgets and KWOK runs it", async () => {
  await using cluster = await startTestCluster();
  const resources = { cpu: "32", memory: "256Gi", pods: "110", [WIDGET]: "4" };
  await cluster.kubectlApply(JSON.stringify({
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: NODE,
      labels: { "kubernetes.io/hostname": NODE, "example.com/pool": "widgets", type: "kwok" },
      annotations: { "kwok.x-k8s.io/node": "fake" },
    },
  }));
  // Status is set through the status subresource, as a kubelet (or fakegpu) would.
  await cluster.kubectl(
    "patch",
    "node",
    NODE,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status: { capacity: resources, allocatable: resources } }),
  );
  await waitFor("node Ready with 4 widgets allocatable", async () => {
    const node = JSON.parse(await cluster.kubectl("get", "node", NODE, "-o", "json"));
    const ready = node.status.conditions?.some((c: { type: string; status: string }) =>
      c.type === "Ready" && c.status === "True"
    );
    return ready && node.status.allocatable?.[WIDGET] === "4";
  });

  await cluster.kubectlApply(widgetPod("fits", 2));
  const running = await waitFor("pod fits Running", async () => {
    const pod = await getPod(cluster, "fits");
    return pod.status.phase === "Running" ? pod : undefined;
  });
  assert.equal(running.spec.nodeName, NODE);

  await cluster.kubectlApply(widgetPod("too-big", 99));
  const event = await waitFor("FailedScheduling event for pod too-big", async () => {
    const events: EventList = JSON.parse(
      await cluster.kubectl(
        "get",
        "events",
        "--namespace",
        "default",
        "--field-selector",
        "involvedObject.name=too-big,reason=FailedScheduling",
        "-o",
        "json",
      ),
    );
    return events.items[0];
  });
  assert.match(event.message, /Insufficient example\.com\/widget/);
  const pending = await getPod(cluster, "too-big");
  assert.equal(pending.status.phase, "Pending");
  assert.equal(pending.spec.nodeName, undefined);
});

Deno.test("stop() leaves no process, listening port or workdir behind and is idempotent", async () => {
  const cluster = await startTestCluster();
  let pids: number[];
  try {
    pids = await readComponentPids(cluster.clusterDir);
    assert.ok(pids.length >= 5, `expected at least 5 component pids, got ${pids.join(", ")}`);
    for (const pid of pids) assert.equal(await isProcessAlive(pid), true, `pid ${pid} alive before stop`);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: portOf(cluster.server) });
    conn.close();
  } finally {
    await cluster.stop();
  }

  for (const pid of pids) assert.equal(await isProcessAlive(pid), false, `pid ${pid} still alive after stop`);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: portOf(cluster.server) }),
    Deno.errors.ConnectionRefused,
  );
  await assert.rejects(Deno.stat(cluster.workdir), Deno.errors.NotFound);
  await cluster.stop();
});
