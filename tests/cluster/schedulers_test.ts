import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { runCommand } from "../../components/local_fleet/control_plane.ts";
import { inKueueNamespace, kueueConfiguration } from "./schedulers.ts";

Deno.test("Kueue's Configuration keeps every server on 127.0.0.1 and writes no certificates or webhooks", () => {
  const config = parseYaml(
    kueueConfiguration({ health: 1001, metrics: 1002, webhook: 1003 }, "/tmp/x/certs"),
  );
  assert.equal(config.health.healthProbeBindAddress, "127.0.0.1:1001");
  assert.equal(config.metrics.bindAddress, "127.0.0.1:1002");
  assert.deepEqual(config.webhook, { host: "127.0.0.1", port: 1003, certDir: "/tmp/x/certs" });
  assert.deepEqual(config.internalCertManagement, { enable: false });
  assert.deepEqual(config.leaderElection, { leaderElect: false });
  assert.deepEqual(config.integrations.frameworks, ["batch/job"]);
});

Deno.test("Kueue's mount namespace shows its certificate in /etc/kueue/metrics/certs and leaves the host's /etc alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fakegpu-kueue-ns-test-" });
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
  const hostHadKueueDir = await exists("/etc/kueue");
  try {
    await Deno.mkdir(`${dir}/certs`);
    await Deno.writeTextFile(`${dir}/certs/tls.crt`, "certificate\n");
    await Deno.writeTextFile(`${dir}/certs/tls.key`, "key\n");
    const [command, ...args] = inKueueNamespace(dir, [
      "bash",
      "-c",
      'cat /etc/kueue/metrics/certs/tls.crt; touch /var/fakegpu-probe 2>/dev/null && echo "/ writable"; ' +
      `touch ${dir}/written && echo "/tmp writable"`,
    ]);
    const inside = await runCommand(command, args);
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(inside.stdout, "certificate\n/tmp writable\n");
    assert.equal(await exists("/etc/kueue"), hostHadKueueDir, "the host's /etc/kueue changed");
    assert.equal(await exists("/var/fakegpu-probe"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
