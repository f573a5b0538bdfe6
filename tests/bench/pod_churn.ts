/**
 * The pod-churn benchmark: one-GPU pods created as Deployments on a running fleet, the time until every
 * Running pod holds a GPU in the node state, then the time from deleting them until every GPU is free.
 *
 * @module
 */
import type { KubeClient, KubeObject } from "../../components/core/kube/client.ts";
import { startReflector } from "../../components/core/kube/reflector.ts";
import { watchNodeStates } from "../../components/core/fleet_watch.ts";
import { podSpec } from "../cluster/fleet_fixtures.ts";

/** Replicas per Deployment. */
const REPLICAS = 100;
const NS = "default";

/** Timings of {@link runPodChurn}, in seconds. */
export interface ChurnTimes {
  /** First Deployment created → every pod Running and holding its GPU in the node state. */
  holdersSeconds: number;
  /** First Deployment deleted → no GPU held. */
  freedSeconds: number;
}

interface Pod extends KubeObject {
  status?: { phase?: string };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`pod churn: ${what} not reached in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs `pods` one-GPU pods as Deployments of {@link REPLICAS}, waits for their holders, deletes them, waits. */
export async function runPodChurn(
  client: KubeClient,
  pods: number,
  stateNamespace: string,
): Promise<ChurnTimes> {
  const stop = new AbortController();
  const holdersByNode = new Map<string, string[]>();
  const states = watchNodeStates(client, {
    namespace: stateNamespace,
    signal: stop.signal,
    onChange: (node, entry) => {
      const uids = entry?.state?.devices.flatMap((d) => (d.holders ?? []).map((h) => h.podUid)) ?? [];
      holdersByNode.set(node, uids);
    },
  });
  const running = startReflector<Pod>(client, {
    path: `/api/v1/namespaces/${NS}/pods`,
    labelSelector: "app=gpu-churn",
    signal: stop.signal,
    transform: (p) => ({ metadata: p.metadata, status: { phase: p.status?.phase } }),
  });
  await Promise.all([states.synced, running.synced]);
  const held = () => new Set([...holdersByNode.values()].flat());
  const names = Array.from({ length: Math.ceil(pods / REPLICAS) }, (_, i) => `gpu-churn-${i}`);
  try {
    const begin = performance.now();
    await Promise.all(names.map((name, i) =>
      client.create(`/apis/apps/v1/namespaces/${NS}/deployments`, {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: NS },
        spec: {
          replicas: Math.min(REPLICAS, pods - i * REPLICAS),
          selector: { matchLabels: { app: "gpu-churn", deployment: name } },
          template: { metadata: { labels: { app: "gpu-churn", deployment: name } }, spec: podSpec(1, {}) },
        },
      })
    ));
    await until(
      () => {
        const runningUids = [...running.store.values()].filter((p) => p.status?.phase === "Running")
          .map((p) => p.metadata?.uid ?? "");
        if (runningUids.length < pods) return false;
        const uids = held();
        return runningUids.every((uid) => uids.has(uid));
      },
      900_000,
      `${pods} Running pods holding their GPUs`,
    );
    const holdersSeconds = (performance.now() - begin) / 1000;
    const deleting = performance.now();
    await Promise.all(
      names.map((name) => client.delete(`/apis/apps/v1/namespaces/${NS}/deployments/${name}`)),
    );
    await until(() => held().size === 0, 900_000, "every GPU free");
    return { holdersSeconds, freedSeconds: (performance.now() - deleting) / 1000 };
  } finally {
    stop.abort();
  }
}
