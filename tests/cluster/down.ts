/**
 * `deno task cluster:down`: deletes every cluster left in the shared `cluster:up` workdir (for example
 * after the process was killed with SIGKILL), including any component process still running.
 *
 * @module
 */

import { deleteCluster } from "../../components/local_fleet/control_plane.ts";
import { devClusterWorkdir, findControlPlaneBinDir } from "./harness.ts";

const workdir = devClusterWorkdir();
const names: string[] = [];
try {
  for await (const entry of Deno.readDir(`${workdir}/clusters`)) {
    if (entry.isDirectory) names.push(entry.name);
  }
} catch (err) {
  if (!(err instanceof Deno.errors.NotFound)) throw err;
}

if (names.length === 0) {
  console.error(`no clusters in ${workdir}`);
} else {
  const binDir = await findControlPlaneBinDir();
  for (const name of names.sort()) {
    console.error(`deleting cluster ${name}`);
    await deleteCluster({ binDir, workdir, name });
  }
  console.error(`deleted ${names.length} cluster(s) from ${workdir}`);
}
