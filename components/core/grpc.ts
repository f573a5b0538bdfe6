/**
 * gRPC over unix sockets for the kubelet-facing roles (@grpc/grpc-js with @grpc/proto-loader): load a `.proto`
 * file that sits beside a module, serve services on a socket path, and call a service on a socket path.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

/** The package object of a loaded `.proto` (services and message types by name). */
export type ProtoPackage = grpc.GrpcObject;

/** Loads a `.proto` file (field names kept as written, 64-bit integers as numbers, defaults filled in). */
export function loadProto(file: URL): ProtoPackage {
  const definition = protoLoader.loadSync(fileURLToPath(file), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}

/** A service of a loaded package, e.g. `service(pkg, "v1beta1", "DevicePlugin")`. */
export function service(pkg: ProtoPackage, ...path: string[]): grpc.ServiceClientConstructor {
  let node: unknown = pkg;
  for (const part of path) node = (node as Record<string, unknown>)[part];
  if (typeof node !== "function") throw new Error(`proto has no service ${path.join(".")}`);
  return node as grpc.ServiceClientConstructor;
}

/** Serves `implementations` on the unix socket `path` (a stale socket file there is replaced). */
export async function serveUnix(
  path: string,
  implementations: [grpc.ServiceClientConstructor, grpc.UntypedServiceImplementation][],
): Promise<grpc.Server> {
  await Deno.remove(path).catch(() => {});
  const server = new grpc.Server();
  for (const [svc, impl] of implementations) server.addService(svc.service, impl);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(
      `unix://${path}`,
      grpc.ServerCredentials.createInsecure(),
      (err) => err ? reject(err) : resolve(),
    )
  );
  return server;
}

/** Stops a server at once (open streams are cancelled) and removes its socket file. */
export async function stopUnix(server: grpc.Server, path: string): Promise<void> {
  server.forceShutdown();
  await Deno.remove(path).catch(() => {});
}

/** A client of `svc` on the unix socket `path`. */
export function unixClient(svc: grpc.ServiceClientConstructor, path: string): grpc.Client {
  return new svc(`unix://${path}`, grpc.credentials.createInsecure());
}

/** Calls the unary method `method` of `client` with a deadline of `timeoutMs`. */
export function callUnary<Res>(
  client: grpc.Client,
  method: string,
  request: unknown,
  timeoutMs = 5_000,
): Promise<Res> {
  const fn = (client as unknown as Record<string, (...args: unknown[]) => void>)[method];
  if (typeof fn !== "function") return Promise.reject(new Error(`no method ${method}`));
  return new Promise((resolve, reject) =>
    fn.call(
      client,
      request,
      { deadline: Date.now() + timeoutMs },
      (err: Error | null, res: Res) => err ? reject(err) : resolve(res),
    )
  );
}

/** A gRPC error with a status code, for a handler's callback. */
export function grpcError(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), { code, details: message, metadata: new grpc.Metadata() });
}

export { status as GrpcStatus } from "@grpc/grpc-js";
