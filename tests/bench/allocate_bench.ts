/**
 * Benchmark (prints figures, asserts nothing): the latency of the kubelet device plugin's `Allocate`, as the
 * kubelet sees it over the plugin's unix socket. The plugin for `nvidia.com/gpu` (node scope `this-node`'s
 * {@link ResourcePlugin}) serves 8 GPUs and registers with a stand-in `kubelet.sock`; a gRPC client in a Worker
 * (its own thread, like the kubelet's own process) sends `--calls` Allocate requests for 2 GPUs one after
 * another and reports p50, p99 and max.
 *
 * `deno task bench:allocate [--calls 10000]`.
 */
import { parseArgs } from "node:util";
import { ResourcePlugin } from "../../components/device_plugin/kubelet_plugin.ts";
import { nodeResources } from "../../components/device_plugin/kubelet_devices.ts";
import { loadProto, serveUnix, service, stopUnix } from "../../components/core/grpc.ts";
import { testState } from "../../components/core/test_state.ts";
import { percentile } from "./bench_stats.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "10000" } } });
const calls = Number(values.calls);
const dir = await Deno.makeTempDir({ prefix: "fakegpu-allocate-bench-" });
const proto = loadProto(new URL("../../components/device_plugin/deviceplugin.proto", import.meta.url));
const kubelet = await serveUnix(`${dir}/kubelet.sock`, [[
  service(proto, "v1beta1", "Registration"),
  { Register: (_call: unknown, done: (err: null, res: object) => void) => done(null, {}) },
]]);
const devices = nodeResources(testState("bench-0", "h100", 8)).get("nvidia.com/gpu")!;
const plugin = new ResourcePlugin("nvidia.com/gpu", devices, { dir, node: "bench-0" });
await plugin.start();

const worker = new Worker(new URL("./allocate_client.ts", import.meta.url), { type: "module" });
const latencies = await new Promise<number[]>((resolve, reject) => {
  worker.onmessage = (e: MessageEvent<number[]>) => resolve(e.data);
  worker.onerror = (e) => reject(e);
  worker.postMessage({ socket: plugin.socket, ids: devices.slice(2, 4).map((d) => d.ID), calls });
});
worker.terminate();
await plugin.stop();
await stopUnix(kubelet, `${dir}/kubelet.sock`);
await Deno.remove(dir, { recursive: true });

const sorted = latencies.sort((a, b) => a - b);
const ms = (v: number) => `${v.toFixed(3)} ms`;
console.log(
  `Allocate over a unix socket, ${calls} calls: p50 ${ms(percentile(sorted, 50))}, p99 ${
    ms(percentile(sorted, 99))
  }, max ${ms(sorted.at(-1)!)}`,
);
