/**
 * `deno task cluster:up [--name N] [--prometheus-port P]`: starts a local control plane in the shared
 * workdir (see `devClusterWorkdir`), prints how to reach it and keeps it running until Ctrl-C
 * (SIGINT) or SIGTERM, which delete it. `deno task cluster:down` removes leftovers of killed runs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startControlPlane } from "../../components/local_fleet/control_plane.ts";
import { devClusterWorkdir, findControlPlaneBinDir } from "./harness.ts";

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
  console.error(
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
  onProgress: (msg) => console.error(msg),
});

console.log(`cluster:    ${plane.name}`);
console.log(`server:     ${plane.server}`);
if (plane.prometheusUrl) console.log(`prometheus: ${plane.prometheusUrl}`);
console.log(`kubeconfig: ${plane.kubeconfigPath}`);
console.log(`logs:       ${plane.clusterDir}/logs`);
console.log(`\nexport KUBECONFIG=${plane.kubeconfigPath}\nexport PATH=${binDir}:$PATH\n`);
console.log("Press Ctrl-C to stop and delete the cluster.");

// The control plane's SIGINT/SIGTERM listener deletes the cluster and exits; it also keeps us alive.
await new Promise(() => {});
