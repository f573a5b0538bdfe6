/**
 * Kueue v0.17 (a local process, `batch/job` integration) admits GPU Jobs on fakegpu's KWOK fleet
 * (status-updater and the KWOK device plugin) by quota: a ClusterQueue with an `nvidia.com/gpu` nominal
 * quota of 8 on a ResourceFlavor that selects the a100 pool by fakegpu's GFD label admits exactly the Jobs
 * that fit (unsuspended; only their pods get GPUs, on a100 nodes), the next Job stays suspended with Kueue's
 * reason in its Workload, and it is admitted once quota is free.
 *
 * KWOK's stages complete a Job's pods as soon as they run, so each Job asks for {@link COMPLETIONS}
 * completions: it stays active, holding its quota, while its pods come and go two at a time.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { KubeClient } from "../../components/core/kube/client.ts";
import { startTestCluster, waitFor } from "../cluster/harness.ts";
import { type Pod, podSpec } from "../cluster/fleet_fixtures.ts";
import {
  gpuHolderUids,
  KUEUE_QUEUE_LABEL,
  startGpuFleet,
  startKueue,
  stepKeepingLogs,
} from "../cluster/schedulers.ts";

const KUEUE = "/apis/kueue.x-k8s.io/v1beta2";
const JOBS = "/apis/batch/v1/namespaces/default/jobs";
const A100_PRODUCT = "NVIDIA-A100-SXM4-80GB";

/** Completions of every Job: far more than its pods finish during the test. */
const COMPLETIONS = 100_000;

/** A Job as the test reads it. */
interface Job {
  metadata: { name: string; uid: string };
  spec: { suspend?: boolean };
}

/** A Kueue Workload as the test reads it. */
interface Workload {
  metadata: { ownerReferences?: { uid: string }[] };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** Creates the ResourceFlavor `a100`, ClusterQueue `gpus` (8 GPUs of that flavor) and LocalQueue `team`. */
async function createQueues(client: KubeClient): Promise<void> {
  await client.create(`${KUEUE}/resourceflavors`, {
    apiVersion: "kueue.x-k8s.io/v1beta2",
    kind: "ResourceFlavor",
    metadata: { name: "a100" },
    spec: { nodeLabels: { "nvidia.com/gpu.product": A100_PRODUCT } },
  });
  await client.create(`${KUEUE}/clusterqueues`, {
    apiVersion: "kueue.x-k8s.io/v1beta2",
    kind: "ClusterQueue",
    metadata: { name: "gpus" },
    spec: {
      namespaceSelector: {},
      resourceGroups: [{
        coveredResources: ["nvidia.com/gpu"],
        flavors: [{ name: "a100", resources: [{ name: "nvidia.com/gpu", nominalQuota: 8 }] }],
      }],
    },
  });
  await client.create(`${KUEUE}/namespaces/default/localqueues`, {
    apiVersion: "kueue.x-k8s.io/v1beta2",
    kind: "LocalQueue",
    metadata: { name: "team", namespace: "default" },
    spec: { clusterQueue: "gpus" },
  });
}

/** Creates a suspended Job in queue `team` running 2 pods of 2 GPUs each (4 GPUs), pods labelled `job=<name>`. */
async function createJob(client: KubeClient, name: string): Promise<Job> {
  return await client.create<Job>(JOBS, {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: "default", labels: { [KUEUE_QUEUE_LABEL]: "team" } },
    spec: {
      suspend: true,
      parallelism: 2,
      completions: COMPLETIONS,
      template: {
        metadata: { labels: { job: name } },
        spec: { ...podSpec(2, {}), restartPolicy: "Never" },
      },
    },
  });
}

/** Every pod of the given Jobs, in any phase. */
async function jobPods(client: KubeClient, ...jobs: string[]): Promise<Pod[]> {
  const selector = `job in (${jobs.join(",")})`;
  return (await client.list<Pod>("/api/v1/namespaces/default/pods", { labelSelector: selector })).items;
}

async function waitUnsuspended(client: KubeClient, name: string): Promise<void> {
  await waitFor(
    `${name} unsuspended`,
    async () => (await client.get<Job>(`${JOBS}/${name}`))?.spec.suspend === false,
  );
}

/**
 * Waits until the node state holds GPUs for pods of `jobs` (among them one of `including`), and for no
 * other pod; checks that no more than the quota's 8 GPUs are held and every pod of `jobs` was placed on an
 * a100 node.
 */
async function waitForHoldersFrom(client: KubeClient, jobs: string[], including: string): Promise<void> {
  await waitFor(`GPUs held by pods of ${jobs.join(" and ")} only, one of them ${including}'s`, async () => {
    const held = await gpuHolderUids(client); // read before the pods, so every holder's pod is listed
    const pods = await jobPods(client, ...jobs);
    const jobOf = new Map(pods.map((p) => [p.metadata.uid, p.metadata.labels?.job]));
    const strangers = held.filter((uid) => !jobOf.has(uid));
    assert.deepEqual(strangers, [], "GPUs held by pods of no admitted Job");
    assert.ok(held.length <= 8, `${held.length} GPUs held under a quota of 8`);
    for (const p of pods) {
      if (p.spec.nodeName) assert.match(p.spec.nodeName, /^kwok-a100-/, p.metadata.name);
    }
    return held.some((uid) => jobOf.get(uid) === including);
  });
}

/** The QuotaReserved condition of the Workload Kueue made for `job`. */
async function quotaReserved(client: KubeClient, job: Job) {
  const { items } = await client.list<Workload>(`${KUEUE}/namespaces/default/workloads`);
  const workload = items.find((w) => w.metadata.ownerReferences?.some((o) => o.uid === job.metadata.uid));
  return workload?.status?.conditions?.find((c) => c.type === "QuotaReserved");
}

Deno.test("Kueue admits GPU Jobs by nvidia.com/gpu quota on fakegpu's KWOK fleet", async (t) => {
  await using cluster = await startTestCluster();
  await using fleet = await startGpuFleet(cluster);
  const client = fleet.client;
  {
    await using kueue = await startKueue(cluster);
    const step = stepKeepingLogs(t, kueue, fleet);

    await step(
      "two 4-GPU Jobs fit the quota of 8: both admitted, only their pods get GPUs, on a100 nodes",
      async () => {
        await createQueues(client);
        for (const name of ["train-1", "train-2"]) {
          const job = await createJob(client, name);
          await waitUnsuspended(client, name);
          assert.equal((await quotaReserved(client, job))?.status, "True");
        }
        await waitForHoldersFrom(client, ["train-1", "train-2"], "train-1");
        await waitForHoldersFrom(client, ["train-1", "train-2"], "train-2");
      },
    );

    await step("the third Job waits with Kueue's reason, suspended, without pods or GPUs", async () => {
      const job = await createJob(client, "train-3");
      const condition = await waitFor("train-3's Workload without quota", async () => {
        const c = await quotaReserved(client, job);
        return c?.status === "False" && c.message ? c : undefined;
      });
      assert.match(
        condition.message!,
        /insufficient unused quota for nvidia\.com\/gpu in flavor a100, 4 more needed/,
      );
      assert.equal((await client.get<Job>(`${JOBS}/train-3`))?.spec.suspend, true);
      assert.deepEqual(await jobPods(client, "train-3"), []);
      await waitForHoldersFrom(client, ["train-1", "train-2"], "train-2");
    });

    await step("deleting train-1 frees its quota: train-3 is admitted and its pods get GPUs", async () => {
      await cluster.kubectl("delete", "job", "train-1", "--cascade=background", "--wait=false");
      await waitUnsuspended(client, "train-3");
      await waitForHoldersFrom(client, ["train-2", "train-3"], "train-3");
    });
  }
});
