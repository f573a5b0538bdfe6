/**
 * fakegpu's Kubernetes access layer: a fetch-based API client ({@link connect}), a list+watch cache that
 * recovers from resets and stalls ({@link startReflector}), Lease-based leader election
 * ({@link runLeaderElection}) and Events ({@link emitEvent}).
 *
 * @example
 * ```ts ignore
 * import { connect, startReflector } from "./mod.ts";
 * const controller = new AbortController();
 * using client = await connect();
 * const nodes = startReflector(client, { path: "/api/v1/nodes", signal: controller.signal });
 * await nodes.synced;
 * ```
 *
 * @module
 */

export {
  type ApplyOptions,
  connect,
  type ConnectOptions,
  KubeApiError,
  type KubeClient,
  type KubeObject,
  type ListOptions,
  type ListResult,
  type MergePatchOptions,
  type RequestOptions,
  type WatchEvent,
  type WatchOptions,
} from "./client.ts";
export { emitEvent, type EventInput, type InvolvedObject } from "./events.ts";
export { type LeaderElectionOptions, type Lease, type LeaseSpec, runLeaderElection } from "./lease.ts";
export { formatMicroTime } from "./microtime.ts";
export {
  objectKey,
  type Reflector,
  type ReflectorChange,
  type ReflectorOptions,
  startReflector,
} from "./reflector.ts";
