/**
 * Where nvidia-smi reads a node's GPUs from: the node state ConfigMap `fakegpu-node-<node>` in fakegpu's
 * namespace, through the API server of the kubeconfig or the in-cluster service account (RBAC: configmaps
 * get in that namespace). Any failure becomes a sentence saying what is missing, never an exception.
 *
 * @module
 */
import { connect } from "../core/kube/client.ts";
import { type NodeGpuState, stateConfigMapName, stateFromConfigMap } from "../core/node_state.ts";
import type { SmiSource } from "./args.ts";

/** The node's state, or why it could not be read. */
export type StateResult = { state: NodeGpuState } | { missing: string };

/** How long nvidia-smi waits for the API server. */
const TIMEOUT_MS = 10_000;

/** Reads the state of `source.node`; see the module documentation. */
export async function readNodeState(source: SmiSource): Promise<StateResult> {
  if (!source.node) return { missing: "no node given (set NODE_NAME or --node)" };
  const where = `ConfigMap ${source.namespace}/${stateConfigMapName(source.node)}`;
  try {
    using client = await connect({
      kubeconfig: source.kubeconfig,
      userAgent: "fakegpu/nvidia-smi",
      requestTimeoutMs: TIMEOUT_MS,
    });
    const cm = await client.get<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${source.namespace}/configmaps/${stateConfigMapName(source.node)}`,
      { signal: AbortSignal.timeout(TIMEOUT_MS) },
    );
    const state = cm && stateFromConfigMap(cm);
    return state
      ? { state }
      : { missing: `${where} not found: node ${source.node} is not a fakegpu GPU node` };
  } catch (err) {
    return { missing: `cannot read ${where}: ${(err as Error).message}` };
  }
}
