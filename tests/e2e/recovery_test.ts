/**
 * The roles ride out a restart of the whole control plane (etcd, kube-apiserver, controller manager,
 * scheduler, kwok-controller) without being restarted themselves: their watches reconnect, leader election
 * holds or regains its Lease, and they keep reconciling, while no node's GPU count ever drops.
 *
 * @module
 */
import assert from "node:assert/strict";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { connect, type KubeClient } from "../../components/core/kube/client.ts";
import { isProcessAlive } from "../../components/local_fleet/control_plane.ts";
import {
  createDefaultFleet,
  FLEET_NAMESPACE as NS,
  gpuCounts,
  gpuPod,
  holders,
  type Node,
  type Pod,
  POOL_KEY,
} from "../cluster/fleet_fixtures.ts";

/** The node the test moves from pool l40s (4 GPUs) to pool h100 (8 GPUs) after the restart. */
const RELABELLED = "kwok-l40s-1";

/** Role log messages about reconnecting: the reflector, request retries and leader election. */
const RECONNECT_MESSAGES = /reflector|kube request|lease|leading|leadership|synced|reconcile failed/;

/** Samples every node's GPU count until stopped, recording each sample of a count not in `allowed`. */
function sampleGpuCounts(client: KubeClient, allowed: Record<string, string[]>) {
  let running = true;
  const result = { samples: 0, failedRequests: 0, drops: [] as string[] };
  const done = (async () => {
    while (running) {
      try {
        const counts = await gpuCounts(client);
        result.samples++;
        for (const [node, values] of Object.entries(allowed)) {
          if (!values.includes(counts[node] ?? "none")) {
            result.drops.push(`${new Date().toISOString()} ${node}: ${counts[node] ?? "none"}`);
          }
        }
      } catch {
        result.failedRequests++; // the API server is down
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return result;
    },
  };
}

/** Prints the role log lines written since `since` that show the role reconnecting. */
async function printReconnectEvidence(roles: RoleProcess[], since: Date): Promise<void> {
  for (const role of roles) {
    const lines = (await Deno.readTextFile(role.logFile)).split("\n").flatMap((line) => {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        return new Date(String(entry.time)) >= since && RECONNECT_MESSAGES.test(String(entry.msg))
          ? [entry]
          : [];
      } catch {
        return [];
      }
    });
    console.error(
      `--- ${role.role} (pid ${role.pid}): ${lines.length} reconnect log lines since the restart`,
    );
    for (const e of lines.slice(0, 40)) {
      const detail = [e.reflector ?? e.lease ?? e.path, e.reason ?? e.error, e.failures && `#${e.failures}`]
        .filter(Boolean).join(" ");
      console.error(`  ${String(e.time).slice(11, 23)} ${e.level} ${e.msg}${detail ? ` (${detail})` : ""}`);
    }
    if (lines.length > 40) console.error(`  ... ${lines.length - 40} more`);
  }
}

function seconds(fromMs: number): string {
  return `${((performance.now() - fromMs) / 1000).toFixed(1)}s`;
}

Deno.test("the roles survive a control-plane restart without being restarted", async (t) => {
  // kwok-controller comes back under a new identity and may run no new pod on a node until the old node
  // Lease expires; a 10 s Lease keeps that wait short, as a real kubelet keeping its identity would.
  await using cluster: TestCluster = await startTestCluster({ nodeLeaseDurationSeconds: 10 });
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-recovery-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const roles: RoleProcess[] = [];
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  const env = { FAKEGPU_LOG_LEVEL: "debug" };
  let sampler: ReturnType<typeof sampleGpuCounts> | undefined;
  let restartedAt: Date | undefined;
  try {
    const plan = await createDefaultFleet(client);
    const expected = Object.fromEntries(plan.map((p) => [p.name, String(p.gpus)]));
    roles.push(await startRole("status-updater", roleArgs, { logDir, env }));
    roles.push(await startRole("device-plugin", roleArgs, { logDir, env }));
    await waitFor("GPUs advertised on every pool node", async () => {
      const counts = await gpuCounts(client);
      return plan.every((p) => counts[p.name] === expected[p.name]) && counts;
    }, { timeoutMs: 90_000 });

    const allowed = Object.fromEntries(plan.map((p) => [p.name, [expected[p.name]]]));
    allowed[RELABELLED].push("8"); // it moves to pool h100 after the restart
    sampler = sampleGpuCounts(client, allowed);
    restartedAt = new Date();
    const restartStart = performance.now();
    await cluster.restart();
    const readyAt = performance.now();
    console.error(`control plane restarted and ready in ${seconds(restartStart)}`);

    await t.step("a relabelled node follows its new pool", async () => {
      await client.mergePatch(`/api/v1/nodes/${RELABELLED}`, {
        metadata: { labels: { [POOL_KEY]: "h100", "gpu-pool": "h100" } },
      });
      await waitFor(`${RELABELLED} advertised as an h100 node`, async () => {
        const n = await client.get<Node>(`/api/v1/nodes/${RELABELLED}`);
        return n?.status?.allocatable?.["nvidia.com/gpu"] === "8" &&
          n.metadata.labels?.["nvidia.com/gpu.product"] === "NVIDIA-H100-80GB-HBM3";
      }, { timeoutMs: 90_000 });
      console.error(`relabel applied ${seconds(readyAt)} after the control plane was ready`);
    });

    await t.step("a new GPU pod runs and its GPU is recorded in the node state", async () => {
      await client.create(
        "/api/v1/namespaces/default/pods",
        gpuPod("after-restart", 1, { "gpu-pool": "a100" }),
      );
      const uid = await waitFor("after-restart Running", async () => {
        const p = await client.get<Pod>("/api/v1/namespaces/default/pods/after-restart");
        return p?.status?.phase === "Running" ? p.metadata.uid : undefined;
      }, { timeoutMs: 90_000 });
      console.error(`pod Running ${seconds(readyAt)} after the control plane was ready`);
      const assigned = await waitFor("after-restart's GPU in the node state", async () => {
        const h = await holders(client);
        return [...h.values()].includes(uid) ? h : undefined;
      }, { timeoutMs: 90_000 });
      assert.deepEqual([...assigned.values()], [uid]);
      console.error(`pod's GPU recorded ${seconds(readyAt)} after the control plane was ready`);
    });

    await t.step("no GPU count dropped and the roles were never restarted", async () => {
      const sampled = await sampler!.stop();
      console.error(
        `sampled GPU counts ${sampled.samples} times (${sampled.failedRequests} requests failed while down)`,
      );
      assert.ok(sampled.samples > 20, `sampled ${sampled.samples} times`);
      assert.deepEqual(sampled.drops, [], "a node's GPU count dropped across the restart");
      for (const role of roles) {
        assert.ok(await isProcessAlive(role.pid), `${role.role} (pid ${role.pid}) exited`);
        const starts = (await Deno.readTextFile(role.logFile)).match(/"msg":"role starting"/g) ?? [];
        assert.equal(starts.length, 1, `${role.role} started ${starts.length} times`);
      }
    });
  } finally {
    await sampler?.stop();
    if (restartedAt) await printReconnectEvidence(roles, restartedAt);
    await Promise.all(roles.splice(0).map((r) => r.stop()));
    client.close();
    if (Deno.env.get("FAKEGPU_KEEP_LOGS")) console.error(`role logs kept in ${logDir}`);
    else await Deno.remove(logDir, { recursive: true });
  }
});
