/**
 * KAI scheduler's fractional GPUs end to end on a real control plane with the fleet (status-updater, device
 * plugin, dcgm-exporter as local processes). KAI itself is not served by the module proxy here, so this test
 * performs its binder's steps as ../shared/reference/schedulers.md describes them: a reservation pod in
 * `runai-reservation` on the chosen node asking for one GPU, labelled with the group; the wait for
 * `run.ai/reserve_for_gpu_index`; the fraction pods of the group with `gpu-fraction` and their
 * `<pod>-shared-gpu` ConfigMap. It asserts fakegpu's side of each step.
 */
import assert from "node:assert/strict";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { freePort } from "../cluster/prometheus.ts";
import { connect, type KubeClient } from "../../components/core/kube/client.ts";
import { decodeNodeState, type NodeGpuState, stateConfigMapName } from "../../components/core/node_state.ts";
import { createDefaultFleet, FLEET_NAMESPACE as NS, type Pod, podSpec } from "../cluster/fleet_fixtures.ts";

const RESERVATION_NS = "runai-reservation";
const GROUP = "runai-gpu-group";
const TOLERATION = { key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" };

async function nodeState(client: KubeClient, node: string): Promise<NodeGpuState | undefined> {
  const cm = await client.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${NS}/configmaps/${stateConfigMapName(node)}`,
  );
  return cm && decodeNodeState(cm.data["state.yaml"]);
}

/** The reservation pod KAI's binder creates on the chosen node for a GPU group. */
function reservationPod(name: string, node: string, group: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: RESERVATION_NS, labels: { [GROUP]: group, app: "runai-reservation" } },
    spec: {
      nodeName: node,
      tolerations: [TOLERATION],
      containers: [{
        name: "runai-reservation",
        image: "reservation:fake",
        resources: { limits: { "nvidia.com/gpu": "1" } },
      }],
    },
  };
}

/** A fraction pod of `group` bound to `node`, reading its share from the `<pod>-shared-gpu` ConfigMap. */
function fractionPod(name: string, node: string, group: string, fraction: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: "default",
      labels: { [GROUP]: group },
      annotations: { "gpu-fraction": fraction },
    },
    spec: {
      nodeName: node,
      tolerations: [TOLERATION],
      containers: [{
        name: "infer",
        image: "cuda:fake",
        env: [{
          name: "RUNAI_NUM_OF_GPUS",
          valueFrom: { configMapKeyRef: { name: `${name}-shared-gpu`, key: "RUNAI_NUM_OF_GPUS" } },
        }],
      }],
    },
  };
}

/** The value of `family` for the GPU `uuid` in a dcgm-exporter scrape, with its labels. */
function sample(text: string, family: string, uuid: string): { value: number; labels: string } | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${family}{`) && l.includes(`UUID="${uuid}"`));
  if (!line) return undefined;
  const close = line.lastIndexOf("}");
  return { value: Number(line.slice(close + 1).trim()), labels: line.slice(family.length + 1, close) };
}

Deno.test("KAI fractional GPUs: the reservation pod gets its GPU's UUID; fraction pods share that GPU", async (t) => {
  await using cluster: TestCluster = await startTestCluster();
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-kai-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  const port = freePort();
  const roles: RoleProcess[] = [];
  try {
    const plan = await createDefaultFleet(client);
    const node = plan.find((p) => p.pool === "a100")!.name;
    await client.create("/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: RESERVATION_NS },
    });
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    roles.push(await startRole("device-plugin", roleArgs, { logDir }));
    roles.push(await startRole("dcgm-exporter", [...roleArgs, "-a", `127.0.0.1:${port}`], { logDir }));
    await waitFor("the fleet advertised", async () => (await nodeState(client, node))?.devices.length === 8);
    const scrape = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let uuid = "";

    await t.step(
      "the binder's reservation pod gets run.ai/reserve_for_gpu_index, a GPU of its node",
      async () => {
        const started = performance.now();
        await client.create(
          `/api/v1/namespaces/${RESERVATION_NS}/pods`,
          reservationPod("runai-reservation-gpu-1", node, "g-1"),
        );
        uuid = await waitFor("the reservation annotation", async () => {
          const pod = await client.get<{ metadata: { annotations?: Record<string, string> } }>(
            `/api/v1/namespaces/${RESERVATION_NS}/pods/runai-reservation-gpu-1`,
          );
          return pod?.metadata.annotations?.["run.ai/reserve_for_gpu_index"];
        }, { intervalMs: 20 });
        console.log(`reservation annotated after ${Math.round(performance.now() - started)} ms`);
        const state = await nodeState(client, node);
        assert.ok(state?.devices.some((d) => d.uuid === uuid), `${uuid} is a GPU of ${node}`);
      },
    );

    await t.step(
      "the group's fraction pods share that GPU, each with its fraction of the memory",
      async () => {
        for (const [name, fraction] of [["frac-a", "0.5"], ["frac-b", "0.25"]]) {
          await client.create("/api/v1/namespaces/default/configmaps", {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: `${name}-shared-gpu`, namespace: "default" },
            data: { "RUNAI-VISIBLE-DEVICES": uuid, RUNAI_NUM_OF_GPUS: Number(fraction).toFixed(2) },
          });
          await client.create("/api/v1/namespaces/default/pods", fractionPod(name, node, "g-1", fraction));
        }
        const gpu = await waitFor("both fraction pods on the reserved GPU", async () => {
          const d = (await nodeState(client, node))?.devices.find((d) => d.uuid === uuid);
          return d?.holders?.length === 2 ? d : undefined;
        });
        assert.deepEqual(gpu.holders?.map((h) => [h.pod, h.share, h.memoryUsedMiB]), [
          ["frac-a", 0.5, 40960],
          ["frac-b", 0.25, 20480],
        ]);
        const others = (await nodeState(client, node))!.devices.filter((d) => d.uuid !== uuid);
        assert.ok(others.every((d) => !d.holders), "the reservation pod holds no GPU of its own");
      },
    );

    await t.step("dcgm-exporter shows the memory of both fraction pods on the shared GPU", async () => {
      const fb = await waitFor("the exporter's view of the shared GPU", async () => {
        const s = sample(await scrape(), "DCGM_FI_DEV_FB_USED", uuid);
        return s?.value === 40960 + 20480 ? s : undefined;
      });
      assert.match(fb.labels, /pod="frac-a"/);
    });

    await t.step("a pod asking for the node's other 7 GPUs gets them, never the reserved one", async () => {
      await client.create("/api/v1/namespaces/default/pods", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "whole-7", namespace: "default" },
        spec: podSpec(7, { "kubernetes.io/hostname": node }),
      });
      const running = await waitFor("whole-7 running", async () => {
        const p = await client.get<Pod>("/api/v1/namespaces/default/pods/whole-7");
        return p?.status?.phase === "Running" ? p : undefined;
      });
      const state = await waitFor("whole-7 holding 7 GPUs", async () => {
        const s = await nodeState(client, node);
        return s?.devices.filter((d) => d.holders?.[0].podUid === running.metadata.uid).length === 7
          ? s
          : undefined;
      });
      assert.deepEqual(state.devices.find((d) => d.uuid === uuid)?.holders?.map((h) => h.pod), [
        "frac-a",
        "frac-b",
      ]);
    });

    await t.step(
      "a bad gpu-fraction is a Warning Event; when the group's pods go the GPU is free",
      async () => {
        await client.create("/api/v1/namespaces/default/pods", fractionPod("frac-bad", node, "g-1", "two"));
        await waitFor("InvalidGpuFraction event", async () => {
          const { items } = await client.list<
            { reason?: string; involvedObject?: { name?: string }; message?: string }
          >(
            "/api/v1/namespaces/default/events",
          );
          return items.some((e) =>
            e.reason === "InvalidGpuFraction" && e.involvedObject?.name === "frac-bad"
          );
        });
        for (const name of ["frac-a", "frac-b", "frac-bad"]) {
          await client.delete(`/api/v1/namespaces/default/pods/${name}`);
        }
        await client.delete(`/api/v1/namespaces/${RESERVATION_NS}/pods/runai-reservation-gpu-1`);
        await waitFor("the reserved GPU free again", async () => {
          const d = (await nodeState(client, node))?.devices.find((d) => d.uuid === uuid);
          return d !== undefined && !d.holders;
        });
      },
    );
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    client.close();
  }
});
