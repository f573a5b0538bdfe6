import assert from "node:assert/strict";
import type * as grpc from "@grpc/grpc-js";
import { callUnary, loadProto, serveUnix, service, stopUnix, unixClient } from "../core/grpc.ts";
import { testState } from "../core/test_state.ts";
import { nodeResources } from "./kubelet_devices.ts";
import { ResourcePlugin } from "./kubelet_plugin.ts";

const proto = loadProto(new URL("./deviceplugin.proto", import.meta.url));

Deno.test("ResourcePlugin over its socket: registers, streams health changes, refuses unknown IDs by name", async () => {
  const dir = await Deno.makeTempDir();
  const registrations: unknown[] = [];
  const kubelet = await serveUnix(`${dir}/kubelet.sock`, [[service(proto, "v1beta1", "Registration"), {
    Register: (call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => {
      registrations.push(call.request);
      done(null, {});
    },
  }]]);
  const state = testState("real-0", "a100-80gb", 2);
  const devices = nodeResources(state).get("nvidia.com/gpu")!;
  const plugin = new ResourcePlugin("nvidia.com/gpu", devices, { dir, node: "real-0" });
  const client = unixClient(service(proto, "v1beta1", "DevicePlugin"), `${dir}/nvidia-gpu.sock`);
  try {
    await plugin.start();
    assert.deepEqual(registrations, [{
      version: "v1beta1",
      endpoint: "nvidia-gpu.sock",
      resource_name: "nvidia.com/gpu",
      options: { pre_start_required: false, get_preferred_allocation_available: true },
    }]);

    const stream = (client as unknown as { ListAndWatch(req: object): grpc.ClientReadableStream<unknown> })
      .ListAndWatch({});
    const lists: { devices: { ID: string; health: string }[] }[] = [];
    const second = new Promise<void>((resolve) =>
      stream.on("data", (msg) => lists.push(msg) === 2 && resolve())
    );
    stream.on("error", () => {});
    const faulty = {
      ...state,
      devices: state.devices.map((d) => d.index === 1 ? { ...d, faults: { xid: 79 } } : d),
    };
    const first = new Promise<void>((resolve) => stream.once("data", () => resolve()));
    await first;
    plugin.update(nodeResources(faulty).get("nvidia.com/gpu")!);
    await second;
    assert.deepEqual(lists.map((l) => l.devices.map((d) => d.health)), [["Healthy", "Healthy"], [
      "Healthy",
      "Unhealthy",
    ]]);
    stream.cancel();

    const answer = await callUnary<{ container_responses: { envs: Record<string, string> }[] }>(
      client,
      "Allocate",
      { container_requests: [{ devices_ids: [devices[1].ID] }] },
    );
    assert.equal(answer.container_responses[0].envs.NVIDIA_VISIBLE_DEVICES, devices[1].ID);
    await assert.rejects(
      callUnary(client, "Allocate", { container_requests: [{ devices_ids: ["GPU-nope"] }] }),
      (err: grpc.ServiceError) => err.code === 3 && err.details.includes("GPU-nope"),
    );
  } finally {
    client.close();
    await plugin.stop();
    await stopUnix(kubelet, `${dir}/kubelet.sock`);
    await Deno.remove(dir, { recursive: true });
  }
});
