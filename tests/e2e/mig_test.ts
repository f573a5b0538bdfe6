/**
 * MIG end to end on the real control plane: a mixed-MIG A100 pool advertises `nvidia.com/mig-<profile>` as its
 * layout says, the real scheduler places a pod asking for `nvidia.com/mig-1g.10gb: 1` and status-updater makes
 * it the holder of one MIG device, and the node label `nvidia.com/mig.config` reconfigures the node
 * (`nvidia.com/mig.config.state` success / pending while a removed device is held / failed with an Event), and
 * `fakegpu nvidia-smi --node … -L` lists the node state's MIG devices.
 */
import assert from "node:assert/strict";
import { startTestCluster, type TestCluster, waitFor } from "../cluster/harness.ts";
import { type RoleProcess, startRole } from "../cluster/roles.ts";
import { freePort } from "../cluster/prometheus.ts";
import { connect } from "../../components/core/kube/client.ts";
import { decodeNodeState, type NodeGpuState, stateConfigMapName } from "../../components/core/node_state.ts";
import { parseTopologyYaml } from "../../components/core/topology_config.ts";
import { fleetNodes } from "../../components/local_fleet/fleet.ts";
import {
  createTopology,
  FLEET_NAMESPACE as NS,
  type Node,
  type Pod,
  podSpec,
  POOL_KEY,
} from "../cluster/fleet_fixtures.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

const TOPOLOGY = `migStrategy: mixed
nodePools:
  a100:
    gpuProduct: NVIDIA-A100-SXM4-80GB
    gpuCount: 2
    nodeCount: 1
    migConfig: all-balanced
`;

/** The node's `nvidia.com/mig-*` allocatable. */
function migAllocatable(node: Node | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(node?.status?.allocatable ?? {}).filter(([name]) => name.startsWith("nvidia.com/mig-")),
  );
}

Deno.test("a mixed-MIG A100 pool advertises, allocates and reconfigures its MIG devices", async (t) => {
  await using cluster: TestCluster = await startTestCluster();
  const logDir = await Deno.makeTempDir({ prefix: "fakegpu-mig-e2e-" });
  const client = await connect({ kubeconfig: cluster.kubeconfigPath });
  const roleArgs = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", NS];
  const roles: RoleProcess[] = [];
  const port = freePort();
  const nodePath = "/api/v1/nodes/kwok-a100-0";
  const readNode = () => client.get<Node>(nodePath);
  const readState = async () => {
    const cm = await client.get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${NS}/configmaps/${stateConfigMapName("kwok-a100-0")}`,
    );
    return cm ? decodeNodeState(cm.data["state.yaml"]) : undefined;
  };
  const setLayout = (layout: string) =>
    client.mergePatch(nodePath, { metadata: { labels: { "nvidia.com/mig.config": layout } } });
  const settled = (state: string, allocatable: Record<string, string>) =>
    waitFor(`mig.config.state ${state} with ${JSON.stringify(allocatable)}`, async () => {
      const node = await readNode();
      return node?.metadata.labels?.["nvidia.com/mig.config.state"] === state &&
        JSON.stringify(migAllocatable(node)) === JSON.stringify(allocatable) && node;
    });
  const heldBy = (state: NodeGpuState | undefined, pod: string) =>
    state?.devices.flatMap((d) => d.mig ?? []).find((m) => m.holder?.pod === pod);
  try {
    await createTopology(client, TOPOLOGY);
    for (const p of fleetNodes(parseTopologyYaml(TOPOLOGY))) await client.create("/api/v1/nodes", p.object);
    roles.push(await startRole("status-updater", roleArgs, { logDir }));
    roles.push(await startRole("device-plugin", roleArgs, { logDir }));
    roles.push(await startRole("dcgm-exporter", [...roleArgs, "-a", `127.0.0.1:${port}`], { logDir }));

    await t.step(
      "allocatable nvidia.com/mig-<profile> and GFD labels match all-balanced on 2 GPUs",
      async () => {
        const node = await settled("success", {
          "nvidia.com/mig-1g.10gb": "4",
          "nvidia.com/mig-2g.20gb": "2",
          "nvidia.com/mig-3g.40gb": "2",
        });
        assert.equal(node.status?.allocatable?.["nvidia.com/gpu"], "0");
        assert.equal(node.metadata.labels?.["nvidia.com/mig.strategy"], "mixed");
        assert.equal(node.metadata.labels?.["nvidia.com/mig-1g.10gb.count"], "4");
        assert.equal(
          node.metadata.labels?.["nvidia.com/mig-3g.40gb.product"],
          "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb",
        );
      },
    );

    const spec = podSpec(0, { [POOL_KEY]: "a100" }) as { containers: { resources: unknown }[] };
    spec.containers[0].resources = { limits: { "nvidia.com/mig-1g.10gb": "1" } };
    await client.create("/api/v1/namespaces/default/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "mig-0", namespace: "default" },
      spec,
    });

    await t.step(
      "the scheduler places a nvidia.com/mig-1g.10gb pod; it holds one 1g.10gb device",
      async () => {
        const pod = await waitFor("pod running", async () => {
          const p = await client.get<Pod>("/api/v1/namespaces/default/pods/mig-0");
          return p?.status?.phase === "Running" && p;
        });
        assert.equal(pod.spec.nodeName, "kwok-a100-0");
        const device = await waitFor(
          "the pod holds a MIG device",
          async () => heldBy(await readState(), "mig-0"),
        );
        assert.equal(device.profile, "1g.10gb");
        assert.match(device.uuid, /^MIG-/);
      },
    );

    await t.step(
      "dcgm-exporter shows the holder's instance series with GPU_I_PROFILE and GPU_I_ID",
      async () => {
        const state = (await readState())!;
        const parent = state.devices.find((d) => d.mig?.some((m) => m.holder?.pod === "mig-0"))!;
        const device = heldBy(state, "mig-0")!;
        const line = await waitFor("the instance series", async () => {
          const r = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
          const body = r?.ok ? await r.text() : "";
          return body.split("\n").find((l) =>
            l.startsWith("DCGM_FI_DEV_GPU_UTIL{") && l.includes('pod="mig-0"')
          );
        });
        assert.ok(
          line.startsWith(
            `DCGM_FI_DEV_GPU_UTIL{gpu="${parent.index}",UUID="${parent.uuid}",pci_bus_id="${parent.pciBusId}",` +
              `device="nvidia${parent.index}",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="1g.10gb",` +
              `GPU_I_ID="${device.giId}",Hostname="kwok-a100-0",`,
          ),
          line,
        );
      },
    );

    await t.step(
      "nvidia.com/mig.config=all-1g.10gb re-advertises; the pod keeps its MIG device",
      async () => {
        const before = heldBy(await readState(), "mig-0")!;
        await setLayout("all-1g.10gb");
        await settled("success", { "nvidia.com/mig-1g.10gb": "14" });
        assert.equal(heldBy(await readState(), "mig-0")?.uuid, before.uuid);
      },
    );

    await t.step("a layout removing the held device stays pending until the pod is gone", async () => {
      await setLayout("all-3g.40gb");
      await settled("pending", { "nvidia.com/mig-1g.10gb": "14" });
      await client.delete("/api/v1/namespaces/default/pods/mig-0");
      await settled("success", { "nvidia.com/mig-3g.40gb": "4" });
    });

    await t.step("an impossible layout ends at failed with the reason in an Event", async () => {
      await setLayout("all-9g.99gb");
      await settled("failed", { "nvidia.com/mig-3g.40gb": "4" });
      const event = await waitFor("a MigConfigFailed event", async () => {
        const { items } = await client.list<{ reason?: string; message?: string; type?: string }>(
          "/api/v1/namespaces/default/events",
        );
        return items.find((e) => e.reason === "MigConfigFailed");
      });
      assert.equal(event.type, "Warning");
      assert.match(event.message ?? "", /unknown MIG config "all-9g.99gb"/);
    });

    await t.step(
      "fakegpu nvidia-smi --node -L lists the MIG devices with the node state's UUIDs",
      async () => {
        const state = (await readState())!;
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", MAIN, "nvidia-smi", ...roleArgs, "--node", "kwok-a100-0", "-L"],
          stdout: "piped",
        }).output();
        assert.equal(
          new TextDecoder().decode(out.stdout),
          state.devices.map((d) =>
            `GPU ${d.index}: NVIDIA A100-SXM4-80GB (UUID: ${d.uuid})\n` +
            (d.mig ?? []).map((m, i) => `  MIG 3g.40gb     Device  ${i}: (UUID: ${m.uuid})\n`).join("")
          ).join(""),
        );
        assert.equal(state.devices.flatMap((d) => d.mig ?? []).length, 4);
      },
    );
  } finally {
    await Promise.all(roles.map((r) => r.stop()));
    client.close();
  }
});
