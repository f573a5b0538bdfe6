/**
 * Volcano v1.10 (vc-scheduler and vc-controller-manager as local processes) places gangs of GPU pods on
 * fakegpu's KWOK fleet (status-updater and the KWOK device plugin): a gang runs only as a whole, the node
 * state records exactly its Running pods as GPU holders, and a gang larger than the free GPUs stays Pending
 * with Volcano's reason on its PodGroup and no GPU.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { KubeClient } from "../../components/core/kube/client.ts";
import { startTestCluster, waitFor } from "../cluster/harness.ts";
import { type Pod, podSpec } from "../cluster/fleet_fixtures.ts";
import {
  gpuHolderUids,
  startGpuFleet,
  startVolcano,
  stepKeepingLogs,
  VOLCANO_GROUP_ANNOTATION,
  VOLCANO_SCHEDULER_NAME,
  waitForGpuHolders,
} from "../cluster/schedulers.ts";

const PODGROUPS = "/apis/scheduling.volcano.sh/v1beta1/namespaces/default/podgroups";

/** A Volcano PodGroup as the test reads it. */
interface PodGroup {
  status?: {
    phase?: string;
    conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
  };
}

/** Creates PodGroup `name` (minMember `size`, queue `default`) and `size` one-GPU pods in it. */
async function createGang(client: KubeClient, name: string, size: number): Promise<void> {
  await client.create(PODGROUPS, {
    apiVersion: "scheduling.volcano.sh/v1beta1",
    kind: "PodGroup",
    metadata: { name, namespace: "default" },
    spec: { minMember: size, queue: "default" },
  });
  for (let i = 0; i < size; i++) {
    await client.create("/api/v1/namespaces/default/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `${name}-${i}`,
        namespace: "default",
        labels: { gang: name },
        annotations: { [VOLCANO_GROUP_ANNOTATION]: name },
      },
      spec: { ...podSpec(1, { type: "kwok" }), schedulerName: VOLCANO_SCHEDULER_NAME },
    });
  }
}

async function gangPods(client: KubeClient, name: string): Promise<Pod[]> {
  return (await client.list<Pod>("/api/v1/namespaces/default/pods", { labelSelector: `gang=${name}` })).items;
}

const uids = (pods: Pod[]) => pods.map((p) => p.metadata.uid);

Deno.test("Volcano gang-schedules GPU pods on fakegpu's KWOK fleet", async (t) => {
  await using cluster = await startTestCluster();
  await using fleet = await startGpuFleet(cluster);
  const client = fleet.client;
  {
    await using volcano = await startVolcano(cluster);
    const step = stepKeepingLogs(t, volcano, fleet);

    await step("a gang of 16 one-GPU pods runs whole, and exactly its pods hold GPUs", async () => {
      await createGang(client, "gang-16", 16);
      const pods = await waitFor("16 gang-16 pods Running", async () => {
        const items = await gangPods(client, "gang-16");
        return items.length === 16 && items.every((p) => p.status?.phase === "Running") && items;
      });
      const group = await waitFor("PodGroup gang-16 Running", async () => {
        const g = await client.get<PodGroup>(`${PODGROUPS}/gang-16`);
        return g?.status?.phase === "Running" && g;
      });
      assert.equal(group.status?.phase, "Running");
      await waitForGpuHolders(client, "gang-16's pods as the holders of 16 GPUs", uids(pods));
    });

    await step(
      "a gang of 17 on the 16 free GPUs stays Pending with Volcano's reason and gets no GPU",
      async () => {
        const before = await gpuHolderUids(client);
        await createGang(client, "gang-17", 17);
        // The message counts the gang's pods as Volcano last saw them (in no fixed order); wait for all 17.
        const condition = await waitFor("PodGroup gang-17 Unschedulable with its 17 pods", async () => {
          const g = await client.get<PodGroup>(`${PODGROUPS}/gang-17`);
          const c = g?.status?.conditions?.find((c) => c.type === "Unschedulable" && c.status === "True");
          return c?.message?.includes("17 Pending") && c;
        });
        assert.equal(condition.reason, "NotEnoughResources");
        assert.match(
          condition.message ?? "",
          /^\d+\/17 tasks in gang unschedulable: pod group is not ready, /,
        );
        assert.match(condition.message ?? "", /\b17 minAvailable\b/);
        const pods = await gangPods(client, "gang-17");
        assert.equal(pods.length, 17);
        for (const p of pods) {
          assert.equal(p.status?.phase, "Pending", p.metadata.name);
          assert.equal(p.spec.nodeName, undefined, `${p.metadata.name} is bound`);
        }
        assert.deepEqual(await gpuHolderUids(client), before);
      },
    );

    await step("once gang-16 is deleted, the waiting gang of 17 runs and holds exactly 17 GPUs", async () => {
      for (const p of await gangPods(client, "gang-16")) {
        await client.delete(`/api/v1/namespaces/default/pods/${p.metadata.name}`);
      }
      const pods = await waitFor("17 gang-17 pods Running", async () => {
        const items = await gangPods(client, "gang-17");
        return items.length === 17 && items.every((p) => p.status?.phase === "Running") && items;
      }, { timeoutMs: 90_000 });
      await waitForGpuHolders(client, "gang-17's pods as the holders of 17 GPUs", uids(pods));
    });
  }
});
