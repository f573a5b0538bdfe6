/**
 * Role `status-updater`: keeps one state ConfigMap per GPU pool node (its GPUs and which pod holds each)
 * and the node's GPU Feature Discovery labels, from the topology and the pods bound to the node.
 * Leader-elected, so two replicas are safe.
 *
 * @module
 */
import { z } from "zod";
import { COMMON_FLAGS, commonFlagsSchema, runRole } from "../core/role_runtime.ts";
import type { FlagSpec } from "../core/flags.ts";
import { runStatusUpdaterController } from "./controller.ts";
import { DEFAULT_RESERVATION_NAMESPACE } from "./kai_fractions.ts";

/** Flags of `fakegpu status-updater`. */
export const FLAGS: FlagSpec[] = [
  ...COMMON_FLAGS,
  { name: "workers", description: "nodes reconciled at the same time", defaultText: "8" },
  {
    name: "reservation-namespace",
    description: "namespace of KAI's reservation pods (fractional GPUs)",
    defaultText: DEFAULT_RESERVATION_NAMESPACE,
  },
];

const schema = commonFlagsSchema.extend({
  workers: z.coerce.number().int().min(1).max(64).default(8),
  reservationNamespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a namespace name").max(
    63,
  )
    .default(DEFAULT_RESERVATION_NAMESPACE),
});

/** Runs status-updater with the given command-line arguments until SIGINT/SIGTERM or `signal`. */
export async function main(args: string[], signal?: AbortSignal): Promise<void> {
  await runRole({
    role: "status-updater",
    args,
    flags: FLAGS,
    schema,
    signal,
    run: ({ flags, client, signal }) =>
      runStatusUpdaterController(client, {
        namespace: flags.namespace,
        topologyConfigMap: flags.topologyConfigmap,
        topologyFile: flags.topologyFile,
        workers: flags.workers,
        reservationNamespace: flags.reservationNamespace,
        signal,
      }),
  });
}
