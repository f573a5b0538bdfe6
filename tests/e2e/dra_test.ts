/**
 * GPUs offered through Dynamic Resource Allocation on a real control plane: status-updater, the KWOK device
 * plugin and dra-plugin run as child processes against the default fleet with `gpuOffer: dra`; the real
 * kube-scheduler allocates ResourceClaims from dra-plugin's slices with selectors written for real NVIDIA
 * GPUs; KWOK runs the pods.
 */
import assert from "node:assert/strict";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { connect, type KubeClient } from "../../components/core/kube/client.ts";
import { decodeNodeState, type NodeGpuState, stateConfigMapName } from "../../components/core/node_state.ts";
import { DEFAULT_TOPOLOGY_YAML, parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import type { ResourceSlice } from "../../components/dra_plugin/reconcile.ts";
import {
  createTopology,
  FLEET_NAMESPACE as NS,
  gpuCounts,
  podSpec,
  POOL_KEY,
} from "../cluster/fleet_fixtures.ts";

const SLICES = "/apis/resource.k8s.io/v1/resourceslices";
const RESOURCE = "/apis/resource.k8s.io/v1/namespaces/default";
const PODS = "/api/v1/namespaces/default/pods";
const TOPOLOGY_YAML = `gpuOffer: dra\n${DEFAULT_TOPOLOGY_YAML}`;

interface Claim {
  metadata: { name: string };
  status?: {
    allocation?: { devices?: { results?: { driver: string; pool: string; device: string }[] } };
    reservedFor?: { name: string }[];
  };
}

interface DraPod {
  metadata: { name: string; uid: string };
  spec: { nodeName?: string; resourceClaims?: { name: string; resourceClaimName?: string }[] };
  status?: {
    phase?: string;
    resourceClaimStatuses?: { name: string; resourceClaimName?: string }[];
    extendedResourceClaimStatus?: { resourceClaimName: string };
  };
}

async function ourSlices(client: KubeClient): Promise<ResourceSlice[]> {
  const { items } = await client.list<ResourceSlice>(SLICES, {
    labelSelector: "app.kubernetes.io/managed-by=fakegpu",
  });
  return items;
}

async function nodeState(client: KubeClient, node: string): Promise<NodeGpuState | undefined> {
  const cm = await client.get<{ data?: Record<string, string> }>(
    `/api/v1/namespaces/${NS}/configmaps/${stateConfigMapName(node)}`,
  );
  return cm?.data?.["state.yaml"] ? decodeNodeState(cm.data["state.yaml"]) : undefined;
}

/** A ResourceClaimTemplate asking for `count` GPUs of class gpu.nvidia.com, optionally with a CEL selector. */
function claimTemplate(name: string, count: number, cel?: string): Record<string, unknown> {
  return {
    apiVersion: "resource.k8s.io/v1",
    kind: "ResourceClaimTemplate",
    metadata: { name, namespace: "default" },
    spec: { spec: { devices: { requests: [{ name: "gpu", exactly: gpuRequest(count, cel) }] } } },
  };
}

function gpuRequest(count: number, cel?: string): Record<string, unknown> {
  return {
    deviceClassName: "gpu.nvidia.com",
    count,
    ...(cel ? { selectors: [{ cel: { expression: cel } }] } : {}),
  };
}

/** A pod whose container uses one claim: from a template, or an existing ResourceClaim. */
function claimPod(name: string, claim: { template: string } | { claim: string }): Record<string, unknown> {
  const source = "template" in claim
    ? { resourceClaimTemplateName: claim.template }
    : { resourceClaimName: claim.claim };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      tolerations: [{ key: "kwok.x-k8s.io/node", operator: "Exists", effect: "NoSchedule" }],
      containers: [{ name: "main", image: "cuda:fake", resources: { claims: [{ name: "gpu" }] } }],
      resourceClaims: [{ name: "gpu", ...source }],
    },
  };
}

async function runningPod(client: KubeClient, name: string): Promise<DraPod> {
  return await waitFor(`${name} Running`, async () => {
    const pod = await client.get<DraPod>(`${PODS}/${name}`);
    return pod?.status?.phase === "Running" ? pod : undefined;
  });
}

/** The devices allocated to a pod's claim `gpu`, as `pool/device`. */
async function allocatedDevices(client: KubeClient, pod: DraPod): Promise<string[]> {
  const claimName = pod.spec.resourceClaims?.find((c) => c.name === "gpu")?.resourceClaimName ??
    pod.status?.resourceClaimStatuses?.find((s) => s.name === "gpu")?.resourceClaimName ??
    pod.status?.extendedResourceClaimStatus?.resourceClaimName;
  assert.ok(claimName, `${pod.metadata.name} has no claim in its status`);
  const claim = await client.get<Claim>(`${RESOURCE}/resourceclaims/${claimName}`);
  const results = claim?.status?.allocation?.devices?.results ?? [];
  assert.ok(results.every((r) => r.driver === "gpu.nvidia.com"), JSON.stringify(results));
  return results.map((r) => `${r.pool}/${r.device}`);
}

/** UIDs of the pods the node state records for a `node/gpu-<index>` device, first holder first. */
async function podsOnGpu(client: KubeClient, device: string): Promise<string[]> {
  const [node, name] = device.split("/");
  const gpu = (await nodeState(client, node))?.devices.find((d) => `gpu-${d.index}` === name);
  return (gpu?.holders ?? []).map((h) => h.podUid);
}

/** Waits until the node state records exactly `uids` on `device`. */
async function waitForPodsOnGpu(client: KubeClient, device: string, uids: string[]): Promise<void> {
  await waitFor(`${device} held by ${uids.join(", ") || "nobody"} in the node state`, async () => {
    const found = await podsOnGpu(client, device);
    return JSON.stringify(found.sort()) === JSON.stringify([...uids].sort());
  });
}

async function schedulingMessage(client: KubeClient, pod: string): Promise<string | undefined> {
  const { items } = await client.list<{ reason?: string; message?: string }>(
    "/api/v1/namespaces/default/events",
    { fieldSelector: `involvedObject.name=${pod}` },
  );
  return items.find((e) => e.reason === "FailedScheduling")?.message;
}

Deno.test("GPUs offered through DRA on a real control plane", async (t) => {
  await using cluster: TestCluster = await startTestCluster();
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-dra-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const roles: RoleProcess[] = [];
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  try {
    const plan = fleetNodes(parseTopologyYaml(TOPOLOGY_YAML));
    let foreignVersion: string | undefined;
    const foreign: ResourceSlice = {
      apiVersion: "resource.k8s.io/v1",
      kind: "ResourceSlice",
      metadata: { name: "kwok-a100-0-other" },
      spec: {
        driver: "gpu.example.com",
        nodeName: "kwok-a100-0",
        pool: { name: "kwok-a100-0", generation: 1, resourceSliceCount: 1 },
        devices: [{
          name: "widget-0",
          attributes: { type: { string: "gpu" } },
          capacity: { memory: { value: "1Gi" } },
        }],
      },
    };

    await t.step("one slice per pool node with NVIDIA's attributes, equal to the node state", async () => {
      await createTopology(client, TOPOLOGY_YAML);
      for (const p of plan) await client.create("/api/v1/nodes", p.object);
      foreignVersion = (await client.create<ResourceSlice>(SLICES, foreign)).metadata.resourceVersion;
      for (const role of ["status-updater", "device-plugin", "dra-plugin"]) {
        roles.push(await startRole(role, roleArgs, { logDir }));
      }
      const slices = await waitFor("a slice for every pool node", async () => {
        const items = await ourSlices(client);
        return items.length === plan.length ? items : undefined;
      }, { timeoutMs: 90_000 });
      assert.deepEqual(slices.map((s) => s.spec.nodeName).sort(), plan.map((p) => p.name).sort());
      assert.equal(slices.reduce((n, s) => n + (s.spec.devices?.length ?? 0), 0), 32);
      for (const s of slices) {
        assert.equal(s.spec.driver, "gpu.nvidia.com");
        assert.deepEqual(s.spec.pool, { name: s.spec.nodeName, generation: 1, resourceSliceCount: 1 });
        assert.equal(s.metadata.ownerReferences?.[0].kind, "Node");
      }
      const h100 = slices.find((s) => s.spec.nodeName === "kwok-h100-0")!;
      const state = (await waitFor("kwok-h100-0's state", () => nodeState(client, "kwok-h100-0")))!;
      const gpu3 = h100.spec.devices!.find((d) => d.name === "gpu-3")!;
      assert.deepEqual(gpu3.attributes, {
        type: { string: "gpu" },
        uuid: { string: state.devices[3].uuid },
        productName: { string: state.gpu.product },
        brand: { string: "Nvidia" },
        architecture: { string: "Hopper" },
        cudaComputeCapability: { version: "9.0.0" },
        driverVersion: { version: "580.105.8" },
        cudaDriverVersion: { version: "13.0.0" },
        "resource.kubernetes.io/pciBusID": { string: state.devices[3].pciBusId.slice(4).toLowerCase() },
      });
      assert.deepEqual(gpu3.capacity, { memory: { value: `${state.gpu.memoryMiB}Mi` } });
      const counts = await gpuCounts(client);
      assert.ok(
        plan.every((p) => counts[p.name] === undefined),
        `DRA-only nodes advertise ${JSON.stringify(counts)}`,
      );
    });

    await t.step("scope this-node publishes only its own node, through the same slice code", async () => {
      await client.create("/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "real-0", labels: { [POOL_KEY]: "h100", "kubernetes.io/hostname": "real-0" } },
        status: { capacity: { cpu: "8", pods: "110" }, allocatable: { cpu: "8", pods: "110" } },
      });
      roles.push(
        await startRole("dra-plugin", [...roleArgs, "--node-scope", "this-node"], {
          logDir,
          env: { NODE_NAME: "real-0" },
        }),
      );
      const slice = await waitFor("real-0's slice", async () => {
        return (await ourSlices(client)).find((s) => s.spec.nodeName === "real-0");
      }, { timeoutMs: 60_000 });
      assert.equal(slice.metadata.labels?.["fakegpu.io/dra-node-scope"], "this-node");
      const state = await nodeState(client, "real-0");
      assert.equal(state?.kwok, false);
      assert.deepEqual(
        slice.spec.devices?.map((d) => d.attributes.uuid),
        state?.devices.map((d) => ({ string: d.uuid })),
      );
      await client.delete("/api/v1/nodes/real-0");
      await waitFor("real-0's slice gone with its Node", async () => {
        return !(await ourSlices(client)).some((s) => s.spec.nodeName === "real-0");
      });
    });

    await t.step("NVIDIA's DeviceClasses exist", async () => {
      const gpu = await client.get<{ spec: Record<string, unknown> }>(
        "/apis/resource.k8s.io/v1/deviceclasses/gpu.nvidia.com",
      );
      assert.equal(gpu?.spec.extendedResourceName, "nvidia.com/gpu");
      assert.ok(await client.get("/apis/resource.k8s.io/v1/deviceclasses/mig.nvidia.com"));
    });

    await t.step("the real scheduler allocates claims with selectors written for real GPUs", async () => {
      await client.create(`${RESOURCE}/resourceclaimtemplates`, claimTemplate("any-gpu", 1));
      await client.create(
        `${RESOURCE}/resourceclaimtemplates`,
        claimTemplate(
          "h100",
          1,
          "device.attributes['gpu.nvidia.com'].productName == 'NVIDIA H100 80GB HBM3'",
        ),
      );
      await client.create(
        `${RESOURCE}/resourceclaimtemplates`,
        claimTemplate(
          "big-memory",
          2,
          "device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('80Gi')) >= 0",
        ),
      );
      await client.create(`${RESOURCE}/resourceclaimtemplates`, claimTemplate("nine", 9));
      await client.create(PODS, claimPod("any-gpu", { template: "any-gpu" }));
      await client.create(PODS, claimPod("on-h100", { template: "h100" }));
      await client.create(PODS, claimPod("big-memory", { template: "big-memory" }));
      await client.create(PODS, claimPod("nine-gpus", { template: "nine" }));

      const any = await runningPod(client, "any-gpu");
      assert.match(any.spec.nodeName ?? "", /^kwok-/);
      const [anyDevice] = await allocatedDevices(client, any);
      assert.match(anyDevice, new RegExp(`^${any.spec.nodeName}/gpu-[0-7]$`));
      await waitForPodsOnGpu(client, anyDevice, [any.metadata.uid]);

      const h100 = await runningPod(client, "on-h100");
      assert.equal(h100.spec.nodeName, "kwok-h100-0");
      assert.match((await allocatedDevices(client, h100))[0], /^kwok-h100-0\/gpu-\d$/);

      // 80Gi: the A100 80GB (81920 MiB) qualifies; the H100 80GB HBM3 (81559 MiB) and the L40S do not.
      const big = await runningPod(client, "big-memory");
      assert.match(big.spec.nodeName ?? "", /^kwok-a100-/);
      assert.equal((await allocatedDevices(client, big)).length, 2);

      const message = await waitFor(
        "FailedScheduling for nine-gpus",
        () => schedulingMessage(client, "nine-gpus"),
      );
      assert.match(message, /0\/5 nodes are available: 5 cannot allocate all claims/);
      assert.equal((await client.get<DraPod>(`${PODS}/nine-gpus`))?.status?.phase, "Pending");
      await client.delete(`${PODS}/nine-gpus`);
    });

    await t.step("two pods sharing one ResourceClaim get the same GPU and both hold it", async () => {
      await client.create(`${RESOURCE}/resourceclaims`, {
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceClaim",
        metadata: { name: "shared", namespace: "default" },
        spec: { devices: { requests: [{ name: "gpu", exactly: gpuRequest(1) }] } },
      });
      await client.create(PODS, claimPod("share-a", { claim: "shared" }));
      await client.create(PODS, claimPod("share-b", { claim: "shared" }));
      const a = await runningPod(client, "share-a");
      const b = await runningPod(client, "share-b");
      assert.equal(a.spec.nodeName, b.spec.nodeName);
      const claim = await client.get<Claim>(`${RESOURCE}/resourceclaims/shared`);
      assert.equal(claim?.status?.allocation?.devices?.results?.length, 1);
      assert.deepEqual(claim?.status?.reservedFor?.map((r) => r.name).sort(), ["share-a", "share-b"]);
      const [device] = await allocatedDevices(client, a);
      await waitForPodsOnGpu(client, device, [a.metadata.uid, b.metadata.uid]);
      await client.delete(`${PODS}/share-a`);
      await waitForPodsOnGpu(client, device, [b.metadata.uid]);
      await client.delete(`${PODS}/share-b`);
      await waitForPodsOnGpu(client, device, []);
    });

    await t.step(
      "a plain nvidia.com/gpu pod is placed on a DRA-only pool through the DeviceClass",
      async () => {
        await client.create(PODS, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "plain-limits", namespace: "default" },
          spec: podSpec(1, { "gpu-pool": "l40s" }),
        });
        const pod = await runningPod(client, "plain-limits");
        assert.match(pod.spec.nodeName ?? "", /^kwok-l40s-/);
        const [device] = await allocatedDevices(client, pod);
        assert.match(device, new RegExp(`^${pod.spec.nodeName}/gpu-[0-3]$`));
        await waitForPodsOnGpu(client, device, [pod.metadata.uid]);
      },
    );

    await t.step("a claim naming a device the node does not have is reported and ignored", async () => {
      const claim = await client.create<{ metadata: { resourceVersion: string } }>(
        `${RESOURCE}/resourceclaims`,
        {
          apiVersion: "resource.k8s.io/v1",
          kind: "ResourceClaim",
          metadata: { name: "bogus", namespace: "default" },
          spec: { devices: { requests: [{ name: "gpu", exactly: gpuRequest(1) }] } },
        },
      );
      await client.replace(`${RESOURCE}/resourceclaims/bogus/status`, {
        apiVersion: "resource.k8s.io/v1",
        kind: "ResourceClaim",
        metadata: { name: "bogus", namespace: "default", resourceVersion: claim.metadata.resourceVersion },
        spec: { devices: { requests: [{ name: "gpu", exactly: gpuRequest(1) }] } },
        status: {
          allocation: {
            devices: {
              results: [{ request: "gpu", driver: "gpu.nvidia.com", pool: "kwok-a100-0", device: "gpu-99" }],
            },
          },
        },
      });
      const message = await waitFor("an UnknownGpuDevice event", async () => {
        const { items } = await client.list<{ reason?: string; message?: string; type?: string }>(
          "/api/v1/namespaces/default/events",
          { fieldSelector: "involvedObject.name=bogus" },
        );
        return items.find((e) => e.reason === "UnknownGpuDevice" && e.type === "Warning")?.message;
      });
      assert.match(message, /Claim allocates device "gpu-99" that kwok-a100-0 does not have; ignored/);
      assert.equal((await nodeState(client, "kwok-a100-0"))?.devices.length, 8);
    });

    await t.step("in steady state dra-plugin writes nothing", async () => {
      const versions = async () =>
        (await ourSlices(client)).map((s) => `${s.metadata.name}@${s.metadata.resourceVersion}`).sort()
          .join();
      const before = await versions();
      await new Promise((r) => setTimeout(r, 6000)); // several KWOK heartbeats and pod updates
      assert.equal(await versions(), before);
    });

    await t.step(
      "relabel: the slice follows the new pool with a new generation; unlabel: it is gone",
      async () => {
        await client.mergePatch("/api/v1/nodes/kwok-l40s-1", {
          metadata: { labels: { [POOL_KEY]: "h100", "gpu-pool": "h100" } },
        });
        await client.mergePatch("/api/v1/nodes/kwok-l40s-0", { metadata: { labels: { [POOL_KEY]: null } } });
        const relabelled = await waitFor("kwok-l40s-1's slice with 8 H100s", async () => {
          const s = (await ourSlices(client)).find((s) => s.spec.nodeName === "kwok-l40s-1");
          return s?.spec.devices?.length === 8 ? s : undefined;
        });
        assert.equal(relabelled.spec.pool.generation, 2);
        assert.deepEqual(relabelled.spec.devices?.[0].attributes.productName, {
          string: "NVIDIA H100 80GB HBM3",
        });
        const state = await nodeState(client, "kwok-l40s-1");
        assert.deepEqual(
          relabelled.spec.devices?.map((d) => d.attributes.uuid),
          state?.devices.map((d) => ({ string: d.uuid })),
        );
        await waitFor("kwok-l40s-0's slice gone", async () => {
          return !(await ourSlices(client)).some((s) => s.spec.nodeName === "kwok-l40s-0");
        });
      },
    );

    await t.step("slices of other drivers are never touched", async () => {
      const other = await client.get<ResourceSlice>(`${SLICES}/kwok-a100-0-other`);
      assert.equal(other?.metadata.resourceVersion, foreignVersion);
    });
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    client.close();
    if (Deno.env.get("FAKEGPU_KEEP_LOGS")) console.error(`role logs kept in ${logDir}`);
    else await Deno.remove(logDir, { recursive: true });
  }
});
