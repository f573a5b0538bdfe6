/**
 * Requests the roles send while a fleet fills: each node's state ConfigMap, GFD labels and advertised
 * resources are written exactly once, however the node, state and status events interleave, and nothing
 * is written once the fleet is up — with the two roles as two processes and as one
 * (`status-updater+device-plugin`, which shares one Node watch and one state watch).
 *
 * @module
 */
import assert from "node:assert/strict";
import { startTestCluster, waitFor } from "../cluster/harness.ts";
import { startRole } from "../cluster/roles.ts";
import { apiRequestCounts, openWatches, requestsBetween } from "../cluster/api_metrics.ts";
import { connect } from "../../components/core/kube/client.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import { createTopology, FLEET_NAMESPACE as NS, type Node } from "../cluster/fleet_fixtures.ts";

const NODES = { a100: 24, h100: 8, l40s: 8 };
const CREATORS = 8;

for (const processes of [["status-updater", "device-plugin"], ["status-updater+device-plugin"]]) {
  Deno.test(
    `a filling fleet gets one state write, one label write and one status write per node (${
      processes.join(", ")
    })`,
    () => fillFleet(processes),
  );
}

async function fillFleet(processes: string[]): Promise<void> {
  await using cluster = await startTestCluster();
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-writes-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath, qps: 200, burst: 400 });
  const topologyYaml = Object.entries(NODES).reduce(
    (text, [pool, count]) => text.replace(new RegExp(`(${pool}:[\\s\\S]*?nodeCount: )\\d+`), `$1${count}`),
    DEFAULT_TOPOLOGY_YAML,
  );
  const plan = fleetNodes(parseTopologyYaml(topologyYaml));
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  const watchesBefore = await openWatches(client);
  const roles = await Promise.all(processes.map((role) => startRole(role, roleArgs, { logDir })));
  try {
    await createTopology(client, topologyYaml);
    // kube-controller-manager POSTs ConfigMap kube-root-ca.crt into every new namespace, on its own time.
    await waitFor(
      "kube-root-ca.crt in the namespace",
      () => client.get(`/api/v1/namespaces/${NS}/configmaps/kube-root-ca.crt`),
    );
    const before = await apiRequestCounts(client);
    // Each process opens one Node watch, and two ConfigMap watches (node states, the topology by name).
    const opened = async (resource: string) =>
      ((await openWatches(client)).get(resource) ?? 0) - (watchesBefore.get(resource) ?? 0);
    await waitFor(
      `the roles' watches of ${processes.join(", ")}`,
      async () =>
        await opened("nodes") === processes.length && await opened("configmaps") === 2 * processes.length,
    );
    const queue = [...plan];
    await Promise.all(Array.from({ length: CREATORS }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) await client.create("/api/v1/nodes", p.object);
    }));
    await waitFor("every node advertised and labelled", async () => {
      const { items } = await client.list<Node>("/api/v1/nodes");
      const done = items.filter((n) =>
        n.metadata.labels?.["nvidia.com/gpu.product"] &&
        n.status?.allocatable?.["nvidia.com/gpu"] ===
          String(plan.find((p) => p.name === n.metadata.name)?.gpus)
      );
      return done.length === plan.length;
    }, { timeoutMs: 120_000 });
    const filled = await apiRequestCounts(client);
    for (const write of ["APPLY configmaps", "APPLY nodes", "APPLY nodes/status"]) {
      assert.equal(requestsBetween(before, filled, write), plan.length, `${write}: one per node`);
    }
    for (const verb of ["PATCH", "PUT", "POST", "DELETE"]) {
      assert.equal(requestsBetween(before, filled, `${verb} configmaps`), 0, `no ${verb} of a ConfigMap`);
    }
    await new Promise((r) => setTimeout(r, 5_000));
    const steady = await apiRequestCounts(client);
    for (const write of ["APPLY configmaps", "APPLY nodes", "APPLY nodes/status"]) {
      assert.equal(requestsBetween(filled, steady, write), 0, `${write}: nothing in steady state`);
    }
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    client.close();
    await Deno.remove(logDir, { recursive: true });
  }
}
