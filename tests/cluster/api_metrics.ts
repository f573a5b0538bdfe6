/**
 * The API server's request counters (`apiserver_request_total` on its /metrics) by verb and resource, for
 * tests and benchmarks that count the requests the roles send.
 *
 * @module
 */
import type { KubeClient } from "../../components/core/kube/client.ts";

/**
 * `apiserver_request_total` summed by `VERB resource[/subresource]`, e.g. `APPLY nodes/status` (the server
 * counts server-side apply as verb `APPLY`).
 */
export async function apiRequestCounts(client: KubeClient): Promise<Map<string, number>> {
  // The client hands back a body that is not JSON as text.
  const text = String(await client.get<string>("/metrics"));
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(match[2]));
  }
  return counts;
}

/** How many more requests `after` counts than `before` for `key`. */
export function requestsBetween(
  before: Map<string, number>,
  after: Map<string, number>,
  key: string,
): number {
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}

/** Watches open on the API server now (`apiserver_longrunning_requests`, verb WATCH), by resource. */
export async function openWatches(client: KubeClient): Promise<Map<string, number>> {
  const text = String(await client.get<string>("/metrics"));
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^apiserver_longrunning_requests\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (labels.verb !== "WATCH") continue;
    counts.set(labels.resource, (counts.get(labels.resource) ?? 0) + Number(match[2]));
  }
  return counts;
}
