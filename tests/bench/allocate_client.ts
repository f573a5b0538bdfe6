/// <reference lib="deno.worker" />
/**
 * The client side of allocate_bench.ts, run in a Worker: sends Allocate requests one after another to the
 * plugin's socket and posts back each call's latency in milliseconds.
 *
 * @module
 */
import { callUnary, loadProto, service, unixClient } from "../../components/core/grpc.ts";

interface Job {
  socket: string;
  ids: string[];
  calls: number;
}

const DevicePlugin = service(
  loadProto(new URL("../../components/device_plugin/deviceplugin.proto", import.meta.url)),
  "v1beta1",
  "DevicePlugin",
);

self.onmessage = async (e: MessageEvent<Job>) => {
  const { socket, ids, calls } = e.data;
  const client = unixClient(DevicePlugin, socket);
  const request = { container_requests: [{ devices_ids: ids }] };
  for (let i = 0; i < 200; i++) await callUnary(client, "Allocate", request); // warm-up
  const latencies: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await callUnary(client, "Allocate", request);
    latencies.push(performance.now() - start);
  }
  client.close();
  self.postMessage(latencies);
};
