/**
 * `deno task cluster:up [--name N] [--prometheus-port P]`: starts a local control plane in the shared
 * workdir (see `devClusterWorkdir`), prints how to reach it and keeps it running until Ctrl-C
 * (SIGINT), SIGTERM or SIGHUP, which delete it, as does closing a piped stdout or stderr (`| tee log`).
 * `deno task cluster:down` removes leftovers of killed runs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startControlPlane } from "../../components/local_fleet/control_plane.ts";
import { devClusterWorkdir, findControlPlaneBinDir } from "./harness.ts";
import { watchOutputPipes, writeOutput } from "../../components/core/output.ts";

const say = (text: string) => writeOutput("stderr", `${text}\n`);

const { values } = parseArgs({
  options: {
    name: { type: "string" },
    "prometheus-port": { type: "string" },
  },
});
const prometheusPort = values["prometheus-port"] === undefined
  ? undefined
  : Number(values["prometheus-port"]);

const workdir = devClusterWorkdir();
const leftovers = await Array.fromAsync(Deno.readDir(`${workdir}/clusters`)).catch(() => []);
if (leftovers.length > 0) {
  say(
    `note: ${leftovers.length} other cluster(s) in ${workdir}/clusters (live or left over from a killed run); ` +
      "'deno task cluster:down' deletes all of them",
  );
}

const binDir = await findControlPlaneBinDir();
const plane = await startControlPlane({
  binDir,
  workdir,
  name: values.name,
  prometheusPort,
  onProgress: say,
});

writeOutput(
  "stdout",
  `cluster:    ${plane.name}\nserver:     ${plane.server}\n` +
    (plane.prometheusUrl ? `prometheus: ${plane.prometheusUrl}\n` : "") +
    `kubeconfig: ${plane.kubeconfigPath}\nlogs:       ${plane.clusterDir}/logs\n` +
    `\nexport KUBECONFIG=${plane.kubeconfigPath}\nexport PATH=${binDir}:$PATH\n\n` +
    "Press Ctrl-C to stop and delete the cluster.\n",
);

// The control plane's SIGINT/SIGTERM/SIGHUP listener deletes the cluster and exits; a closed output pipe
// does the same here. The pending promise keeps us alive.
void watchOutputPipes({
  signal: new AbortController().signal,
  onClosed: async () => {
    await plane.stop();
    Deno.exit(0);
  },
});
await new Promise(() => {});
