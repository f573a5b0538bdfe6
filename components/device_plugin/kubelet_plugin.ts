/**
 * One kubelet device plugin (Device Plugin API v1beta1) for one resource: serves `DevicePlugin` on its socket
 * in the kubelet's device-plugin directory and registers it on `kubelet.sock`. ListAndWatch sends the device
 * list at once and again whenever {@link ResourcePlugin.update} finds it changed.
 *
 * @module
 */
import type * as grpc from "@grpc/grpc-js";
import {
  callUnary,
  grpcError,
  GrpcStatus,
  loadProto,
  serveUnix,
  service,
  stopUnix,
  unixClient,
} from "../core/grpc.ts";
import { log } from "../core/log.ts";
import {
  allocateContainer,
  type ContainerAllocation,
  type KubeletDevice,
  preferredAllocation,
  socketName,
  UnknownDevicesError,
} from "./kubelet_devices.ts";

import { KUBELET_SOCKET } from "./kubelet_paths.ts";

const proto = loadProto(new URL("./deviceplugin.proto", import.meta.url));
const DevicePlugin = service(proto, "v1beta1", "DevicePlugin");
const Registration = service(proto, "v1beta1", "Registration");

/** Options shared by every plugin of a node. */
export interface ResourcePluginOptions {
  /** The kubelet's device-plugin directory. */
  dir: string;
  /** Node name (`NODE_NAME` in containers). */
  node: string;
  /** Host path of fakegpu's nvidia-smi to mount into GPU containers. */
  nvidiaSmiHostPath?: string;
  /** Called after each successful Allocate. */
  onAllocate?: () => void;
}

/** A device plugin for one resource; see the module doc. */
export class ResourcePlugin {
  #devices: KubeletDevice[] = [];
  #sent = "";
  #server: grpc.Server | undefined;
  readonly #streams = new Set<grpc.ServerWritableStream<unknown, unknown>>();

  /** Plugin for `resource`, serving `devices` until the first {@link update}. */
  constructor(readonly resource: string, devices: KubeletDevice[], readonly options: ResourcePluginOptions) {
    this.#devices = devices;
  }

  /** The plugin's socket path. */
  get socket(): string {
    return `${this.options.dir}/${socketName(this.resource)}`;
  }

  /** Whether the plugin serves and its socket file is still there (the kubelet removes it on restart). */
  async serving(): Promise<boolean> {
    return this.#server !== undefined && await Deno.stat(this.socket).then(() => true, () => false);
  }

  /** (Re)starts serving on the socket and registers with the kubelet; throws when registration fails. */
  async start(): Promise<void> {
    if (this.#server) await stopUnix(this.#server, this.socket);
    this.#streams.clear();
    this.#server = await serveUnix(this.socket, [[DevicePlugin, this.#handlers()]]);
    log.info(`Starting to serve '${this.resource}' on ${this.socket}`);
    const client = unixClient(Registration, `${this.options.dir}/${KUBELET_SOCKET}`);
    try {
      await callUnary(client, "Register", {
        version: "v1beta1",
        endpoint: socketName(this.resource),
        resource_name: this.resource,
        options: { pre_start_required: false, get_preferred_allocation_available: true },
      });
    } finally {
      client.close();
    }
    log.info(`Registered device plugin for '${this.resource}' with Kubelet`);
  }

  /** Replaces the device list; open ListAndWatch streams get it when it differs from what they had. */
  update(devices: KubeletDevice[]): void {
    this.#devices = devices;
    const text = JSON.stringify(devices);
    if (text === this.#sent) return;
    this.#sent = text;
    for (const stream of this.#streams) stream.write({ devices });
  }

  /** Stops serving and removes the socket. */
  async stop(): Promise<void> {
    if (this.#server) await stopUnix(this.#server, this.socket);
    this.#server = undefined;
    this.#streams.clear();
  }

  #allocate(ids: string[]): ContainerAllocation {
    return allocateContainer(
      this.resource,
      this.#devices,
      ids,
      this.options.node,
      this.options.nvidiaSmiHostPath,
    );
  }

  #handlers(): grpc.UntypedServiceImplementation {
    const unary =
      <Req, Res>(fn: (req: Req) => Res) =>
      (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
        try {
          callback(null, fn(call.request));
        } catch (err) {
          const code = err instanceof UnknownDevicesError ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.INTERNAL;
          log.warn("device plugin request failed", { resource: this.resource, error: err });
          callback(grpcError(code, err instanceof Error ? err.message : String(err)));
        }
      };
    return {
      GetDevicePluginOptions: unary(() => ({
        pre_start_required: false,
        get_preferred_allocation_available: true,
      })),
      ListAndWatch: (stream: grpc.ServerWritableStream<unknown, unknown>) => {
        this.#streams.add(stream);
        const forget = () => this.#streams.delete(stream);
        stream.on("cancelled", forget);
        stream.on("close", forget);
        stream.on("error", forget);
        this.#sent = JSON.stringify(this.#devices);
        stream.write({ devices: this.#devices });
      },
      GetPreferredAllocation: unary((req: PreferredRequest) => ({
        container_responses: req.container_requests.map((c) => ({
          deviceIDs: preferredAllocation(
            this.#devices.map((d) => d.ID),
            c.available_deviceIDs,
            c.must_include_deviceIDs,
            c.allocation_size,
          ),
        })),
      })),
      Allocate: unary((req: AllocateRequest) => {
        const container_responses = req.container_requests.map((c) => this.#allocate(c.devices_ids));
        this.options.onAllocate?.();
        return { container_responses };
      }),
      PreStartContainer: unary(() => ({})),
    };
  }
}

interface PreferredRequest {
  container_requests: {
    available_deviceIDs: string[];
    must_include_deviceIDs: string[];
    allocation_size: number;
  }[];
}

interface AllocateRequest {
  container_requests: { devices_ids: string[] }[];
}
