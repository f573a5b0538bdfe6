/**
 * HAMi GPU sharing on KWOK nodes end to end: status-updater, `device-plugin --node-scope kwok` and dcgm-exporter
 * run as local processes against a real control plane, and the test plays HAMi's scheduler exactly as HAMi v2.10
 * does it (Filter annotations, node lock by a guarded merge patch, `bind-phase=allocating`, the Binding
 * subresource). It asserts fakegpu's side: the node registration, the advertised count, the plugin's half of
 * every bind, the node state and the exporter's memory of a shared GPU.
 */
import assert from "node:assert/strict";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { freePort } from "../cluster/prometheus.ts";
import { createTopology, FLEET_NAMESPACE as NS } from "../cluster/fleet_fixtures.ts";
import { connect, type KubeClient, type KubeObject } from "../../components/core/kube/client.ts";
import { parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import { decodeNodeState, type NodeGpuState, stateConfigMapName } from "../../components/core/node_state.ts";
import {
  formatDeviceList,
  formatHandshakeTime,
  formatLock,
  HAMI_ALLOCATED_ANNOTATION,
  HAMI_BIND_PHASE_ANNOTATION,
  HAMI_BIND_TIME_ANNOTATION,
  HAMI_HANDSHAKE_ANNOTATION,
  HAMI_LOCK_ANNOTATION,
  HAMI_NODE_ANNOTATION,
  HAMI_NVIDIA_TYPE,
  HAMI_REGISTER_ANNOTATION,
  HAMI_TIME_ANNOTATION,
  HAMI_TO_ALLOCATE_ANNOTATION,
} from "../../components/core/hami.ts";

const TOPOLOGY = `nodePoolLabelKey: run.ai/simulated-gpu-node-pool
nodePools:
  hami:
    gpuProduct: NVIDIA-A100-SXM4-80GB
    gpuCount: 8
    nodeCount: 1
    sharing:
      hami: {}
  hami-text:
    gpuProduct: NVIDIA-L40S
    gpuCount: 4
    nodeCount: 1
    sharing:
      hami: {splitCount: 4, memoryScaling: 2, registerFormat: text}
`;
const NODE = "kwok-hami-0";
const TEXT_NODE = "kwok-hami-text-0";
const PODS = 13;
/** The memory HAMi grants pod `i` (`nvidia.com/gpumem`). */
const memoryOf = (i: number) => 2000 + 500 * i;

type Obj = KubeObject & { spec?: { nodeName?: string }; status?: Record<string, unknown> };

const annotationsOf = async (client: KubeClient, path: string) =>
  (await client.get<Obj>(path))?.metadata?.annotations ?? {};

async function nodeState(client: KubeClient, node: string): Promise<NodeGpuState | undefined> {
  const cm = await client.get<{ data?: Record<string, string> }>(
    `/api/v1/namespaces/${NS}/configmaps/${stateConfigMapName(node)}`,
  );
  return cm?.data ? decodeNodeState(cm.data["state.yaml"]) : undefined;
}

/** A pod as HAMi's webhook leaves it: HAMi's scheduler, one shared GPU with `mem` MiB. */
function hamiPod(name: string, mem: number): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      schedulerName: "hami-scheduler",
      tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
      containers: [{
        name: "main",
        image: "cuda:fake",
        resources: { limits: { "nvidia.com/gpu": "1", "nvidia.com/gpumem": String(mem) } },
      }],
    },
  };
}

/**
 * HAMi's scheduler binding `pod` to `node` with `devices` (the Filter's choice): the Filter annotations, the node
 * lock (a merge patch guarded by the node's resourceVersion, refused while locked), `bind-phase=allocating` with
 * `bind-time`, then the Binding subresource.
 */
async function hamiBind(client: KubeClient, pod: string, node: string, devices: string): Promise<void> {
  const podPath = `/api/v1/namespaces/default/pods/${pod}`;
  const now = Math.floor(Date.now() / 1000);
  await client.mergePatch(podPath, {
    metadata: {
      annotations: {
        [HAMI_NODE_ANNOTATION]: node,
        [HAMI_TIME_ANNOTATION]: String(now),
        [HAMI_TO_ALLOCATE_ANNOTATION]: devices,
        [HAMI_ALLOCATED_ANNOTATION]: devices,
      },
    },
  });
  const current = await client.get<Obj>(`/api/v1/nodes/${node}`);
  const held = current?.metadata?.annotations?.[HAMI_LOCK_ANNOTATION];
  assert.equal(held, undefined, `node ${node} still locked by ${held} when binding ${pod}`);
  await client.mergePatch(`/api/v1/nodes/${node}`, {
    metadata: {
      resourceVersion: current!.metadata!.resourceVersion,
      annotations: { [HAMI_LOCK_ANNOTATION]: formatLock(new Date(), "default", pod) },
    },
  });
  await client.mergePatch(podPath, {
    metadata: {
      annotations: { [HAMI_BIND_PHASE_ANNOTATION]: "allocating", [HAMI_BIND_TIME_ANNOTATION]: String(now) },
    },
  });
  await client.create(`${podPath}/binding`, {
    apiVersion: "v1",
    kind: "Binding",
    metadata: { name: pod, namespace: "default" },
    target: { apiVersion: "v1", kind: "Node", name: node },
  });
}

/** Waits for the plugin's half of the bind: `bind-phase` final and the node's lock gone; returns the phase. */
async function bindOutcome(client: KubeClient, pod: string, node: string): Promise<Record<string, string>> {
  const annotations = await waitFor(`${pod}: bind-phase final`, async () => {
    const a = await annotationsOf(client, `/api/v1/namespaces/default/pods/${pod}`);
    return a[HAMI_BIND_PHASE_ANNOTATION] !== "allocating" ? a : undefined;
  }, { intervalMs: 20 });
  await waitFor(
    `${node}: lock released after ${pod}`,
    async () => (await annotationsOf(client, `/api/v1/nodes/${node}`))[HAMI_LOCK_ANNOTATION] === undefined,
    { intervalMs: 20 },
  );
  return annotations;
}

Deno.test("HAMi shares a KWOK node's GPUs: registration, the bind protocol, node state and exporter memory", async (t) => {
  await using cluster: TestCluster = await startTestCluster();
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-hami-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  const exporterPort = freePort();
  const roles: RoleProcess[] = [];
  try {
    await createTopology(client, TOPOLOGY);
    for (const p of fleetNodes(parseTopologyYaml(TOPOLOGY))) await client.create("/api/v1/nodes", p.object);
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    roles.push(await startRole("device-plugin", roleArgs, { logDir }));
    roles.push(
      await startRole("dcgm-exporter", [...roleArgs, "-a", `127.0.0.1:${exporterPort}`], { logDir }),
    );
    const state = await waitFor("node state", () => nodeState(client, NODE));
    const uuids = state.devices.map((d) => d.uuid);

    await t.step("the node registers its GPUs and advertises GPUs × split count", async () => {
      const node = await waitFor("HAMi registration", async () => {
        const n = await client.get<Obj>(`/api/v1/nodes/${NODE}`);
        const allocatable = (n?.status?.allocatable as Record<string, string> | undefined)
          ?.["nvidia.com/gpu"];
        return n?.metadata?.annotations?.[HAMI_REGISTER_ANNOTATION] && allocatable === "80" ? n : undefined;
      });
      assert.equal((node.status?.capacity as Record<string, string>)["nvidia.com/gpu"], "80");
      assert.deepEqual(
        JSON.parse(node.metadata!.annotations![HAMI_REGISTER_ANNOTATION]),
        uuids.map((id, index) => ({
          id,
          ...(index === 0 ? {} : { index }),
          count: 10,
          devmem: 81920,
          devcore: 100,
          type: "NVIDIA A100-SXM4-80GB",
          mode: "hami-core",
          health: true,
        })),
      );
      const text = await waitFor("text registration", async () => {
        const n = await client.get<Obj>(`/api/v1/nodes/${TEXT_NODE}`);
        const allocatable = (n?.status?.allocatable as Record<string, string> | undefined)
          ?.["nvidia.com/gpu"];
        return allocatable === "16" ? n?.metadata?.annotations?.[HAMI_REGISTER_ANNOTATION] : undefined;
      });
      const textUuids = (await nodeState(client, TEXT_NODE))!.devices.map((d) => d.uuid);
      assert.equal(
        text,
        textUuids.map((id, index) => `${id},4,92136,100,NVIDIA L40S,0,true,${index},hami-core:`).join(""),
      );
    });

    await t.step("a handshake request is answered", async () => {
      const requested = `Requesting_${formatHandshakeTime(new Date())}`;
      await client.mergePatch(`/api/v1/nodes/${NODE}`, {
        metadata: { annotations: { [HAMI_HANDSHAKE_ANNOTATION]: requested } },
      });
      const reply = await waitFor("handshake reply", async () => {
        const value = (await annotationsOf(client, `/api/v1/nodes/${NODE}`))[HAMI_HANDSHAKE_ANNOTATION];
        return value?.startsWith("Reported ") ? value : undefined;
      });
      assert.match(reply, /^Reported \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    });

    const chosen = new Map<string, { gpu: string; mem: number }>();
    await t.step(`${PODS} pods bound one after another share the node's 8 GPUs`, async () => {
      const took: number[] = [];
      for (let i = 0; i < PODS; i++) {
        const name = `share-${i}`;
        const choice = { gpu: uuids[i % uuids.length], mem: memoryOf(i) };
        chosen.set(name, choice);
        await client.create("/api/v1/namespaces/default/pods", hamiPod(name, choice.mem));
        const started = performance.now();
        await hamiBind(
          client,
          name,
          NODE,
          formatDeviceList([[{ uuid: choice.gpu, type: HAMI_NVIDIA_TYPE, memoryMiB: choice.mem, cores: 0 }]]),
        );
        const annotations = await bindOutcome(client, name, NODE);
        took.push(performance.now() - started);
        assert.equal(annotations[HAMI_BIND_PHASE_ANNOTATION], "success", name);
        assert.equal(annotations[HAMI_TO_ALLOCATE_ANNOTATION], ";", `${name}: devices consumed`);
      }
      took.sort((a, b) => a - b);
      console.log(
        `HAMi binds (lock → bind-phase=success and lock released): median ${
          took[PODS >> 1].toFixed(0)
        } ms, ` +
          `max ${took.at(-1)!.toFixed(0)} ms over ${PODS} pods`,
      );
      await waitFor("all running", async () => {
        const { items } = await client.list<Obj>("/api/v1/namespaces/default/pods");
        return items.filter((p) => p.status?.phase === "Running").length === PODS;
      });
    });

    await t.step("the node state lists each pod on the GPU HAMi chose, with its memory", async () => {
      const expected = uuids.map((uuid) =>
        [...chosen].filter(([, c]) => c.gpu === uuid).map(([pod, c]) => ({ pod, mem: c.mem }))
      );
      await waitFor("holders as HAMi chose", async () => {
        const current = await nodeState(client, NODE);
        const actual = current!.devices.map((d) =>
          (d.holders ?? []).map((h) => ({ pod: h.pod, mem: h.memoryUsedMiB! }))
            .sort((a, b) => a.pod.localeCompare(b.pod))
        );
        assert.deepEqual(actual, expected.map((e) => e.sort((a, b) => a.pod.localeCompare(b.pod))));
        return true;
      });
    });

    await t.step("the exporter's framebuffer use of a shared GPU is its holders' memory", async () => {
      const used = uuids.map((uuid) =>
        [...chosen.values()].filter((c) => c.gpu === uuid).reduce((sum, c) => sum + c.mem, 0)
      );
      await waitFor("FB_USED of every GPU", async () => {
        const text = await (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).text();
        const fb = uuids.map((uuid) => {
          const line = text.split("\n").find((l) => l.startsWith("DCGM_FI_DEV_FB_USED{") && l.includes(uuid));
          return Number(line?.split(" ").at(-1));
        });
        assert.deepEqual(fb, used);
        return true;
      });
    });

    await t.step(
      "a malformed device list fails its bind with an Event, releases the lock, and the next pod binds",
      async () => {
        await client.create("/api/v1/namespaces/default/pods", hamiPod("broken", 1000));
        await hamiBind(client, "broken", NODE, `${uuids[0]},NVIDIA,lots,0:;`);
        const annotations = await bindOutcome(client, "broken", NODE);
        assert.equal(annotations[HAMI_BIND_PHASE_ANNOTATION], "failed");
        const event = await waitFor("Warning Event", async () => {
          const { items } = await client.list<Obj>("/api/v1/namespaces/default/events", {
            fieldSelector: "involvedObject.name=broken,reason=HamiBindFailed",
          });
          return items[0];
        });
        assert.equal(event.type, "Warning");
        assert.match(
          String(event.message),
          /hami\.io\/vgpu-devices-to-allocate: container 0, device .*: memory "lots"/,
        );
        await client.create("/api/v1/namespaces/default/pods", hamiPod("after", 1000));
        await hamiBind(
          client,
          "after",
          NODE,
          formatDeviceList([[{ uuid: uuids[7], type: HAMI_NVIDIA_TYPE, memoryMiB: 1000, cores: 0 }]]),
        );
        assert.equal((await bindOutcome(client, "after", NODE))[HAMI_BIND_PHASE_ANNOTATION], "success");
        // status-updater: the broken pod gets no GPU (and an Event), the next one the GPU HAMi chose.
        const invalid = await waitFor("InvalidHamiAllocation Event", async () => {
          const { items } = await client.list<Obj>("/api/v1/namespaces/default/events", {
            fieldSelector: "involvedObject.name=broken,reason=InvalidHamiAllocation",
          });
          return items[0];
        });
        assert.match(String(invalid.message), /hami\.io\/vgpu-devices-allocated: .*; the pod gets no GPU$/);
        await waitFor("after holds GPU 7", async () => {
          const held = (await nodeState(client, NODE))!.devices.map((d) =>
            (d.holders ?? []).map((h) => h.pod)
          );
          assert.ok(!held.flat().includes("broken"), "broken holds no GPU");
          return held[7].includes("after");
        });
        const { items: overcommitted } = await client.list<Obj>("/api/v1/namespaces/default/events", {
          fieldSelector: "reason=GpuOvercommitted",
        });
        assert.deepEqual(overcommitted, [], "status-updater chose no GPU itself");
        for (const role of roles) {
          assert.equal(await Promise.race([role.exited, Promise.resolve("running")]), "running");
        }
      },
    );

    await t.step(
      "a pool that stops sharing through HAMi loses its registration and split count",
      async () => {
        const plain = TOPOLOGY.replace(/\n {4}sharing:\n {6}hami: \{splitCount: 4.*\n/, "\n");
        assert.notEqual(plain, TOPOLOGY);
        await client.mergePatch(`/api/v1/namespaces/${NS}/configmaps/topology`, {
          data: { "topology.yml": plain },
        });
        await waitFor("registration removed", async () => {
          const n = await client.get<Obj>(`/api/v1/nodes/${TEXT_NODE}`);
          const allocatable = (n?.status?.allocatable as Record<string, string> | undefined)
            ?.["nvidia.com/gpu"];
          return allocatable === "4" && n?.metadata?.annotations?.[HAMI_REGISTER_ANNOTATION] === undefined;
        });
        assert.ok(
          (await annotationsOf(client, `/api/v1/nodes/${NODE}`))[HAMI_REGISTER_ANNOTATION],
          "still HAMi",
        );
      },
    );
  } finally {
    client.close();
    for (const role of roles) await role.stop();
  }
});
