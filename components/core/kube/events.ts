/**
 * Kubernetes Events (core/v1), as `kubectl describe` shows them.
 *
 * @module
 */

import { log } from "../log.ts";
import type { KubeClient } from "./client.ts";

/** The object an event is about. */
export interface InvolvedObject {
  /** Kind, e.g. `Node`. */
  kind: string;
  /** Name of the object. */
  name: string;
  /** Namespace of the object; omit for cluster-scoped objects. */
  namespace?: string;
  /** UID of the object, so the event follows this incarnation only. */
  uid?: string;
  /** API version, e.g. `v1`. */
  apiVersion?: string;
}

/** An event to record. */
export interface EventInput {
  /** Namespace of the Event: the object's namespace, or `default` for cluster-scoped objects. */
  namespace: string;
  /** The object the event is about. */
  involved: InvolvedObject;
  /** Short UpperCamelCase reason, e.g. `GpuAdvertised`. */
  reason: string;
  /** Human-readable description. */
  message: string;
  /**
   * Severity.
   *
   * @default {"Normal"}
   */
  type?: "Normal" | "Warning";
  /** Reporting component, e.g. `fakegpu-device-plugin`. */
  component: string;
}

/**
 * Builds the core/v1 Event body for {@link emitEvent}.
 *
 * @param event The event to record.
 * @param now The time of the event.
 * @returns The Event object to POST.
 */
export function buildEvent(event: EventInput, now: Date): Record<string, unknown> {
  const timestamp = now.toISOString().replace(/\.\d+Z$/, "Z");
  const suffix = (BigInt(now.getTime()) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000)))
    .toString(16);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${event.involved.name}.${suffix}`, namespace: event.namespace },
    involvedObject: { ...event.involved },
    reason: event.reason,
    message: event.message,
    type: event.type ?? "Normal",
    source: { component: event.component },
    reportingComponent: event.component,
    firstTimestamp: timestamp,
    lastTimestamp: timestamp,
    count: 1,
  };
}

/**
 * Records an Event. Never throws: failures are logged at `warn`.
 *
 * @param client The API client.
 * @param event The event to record.
 */
export async function emitEvent(client: KubeClient, event: EventInput): Promise<void> {
  try {
    await client.create(`/api/v1/namespaces/${event.namespace}/events`, buildEvent(event, new Date()));
  } catch (error) {
    log.warn("cannot record event", { reason: event.reason, object: event.involved.name, error });
  }
}
