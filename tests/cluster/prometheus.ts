/**
 * A real Prometheus (Debian's package) for end-to-end tests: started on 127.0.0.1 with a throwaway config
 * and data directory, scraping the given targets every second and evaluating the given alert rules, and
 * queried through its HTTP API.
 *
 * @module
 */
import { stringify as stringifyYaml } from "yaml";
import { waitFor } from "./harness.ts";

/** An alert rule as Prometheus' rule files write it. */
export interface AlertRule {
  /** Alert name. */
  alert: string;
  /** PromQL expression. */
  expr: string;
}

/** A running Prometheus. */
export interface TestPrometheus {
  /** Base URL, e.g. `http://127.0.0.1:39123`. */
  readonly url: string;
  /** Runs an instant query; returns the result vector. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Names of the alerts firing now. */
  firingAlerts(): Promise<string[]>;
  /** Stops Prometheus and removes its data. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Runs `promtool` with the given arguments and input; returns its exit code and output. */
export async function promtool(args: string[], input = ""): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Starts Prometheus scraping `targets` (host:port) every second with `rules` loaded. */
export async function startPrometheus(targets: string[], rules: AlertRule[]): Promise<TestPrometheus> {
  const dir = await Deno.makeTempDir({ prefix: "fakegpu-prometheus-" });
  const rulesFile = `${dir}/rules.yml`;
  await Deno.writeTextFile(rulesFile, stringifyYaml({ groups: [{ name: "gpu", rules }] }));
  const checked = await promtool(["check", "rules", rulesFile]);
  if (checked.code !== 0) throw new Error(`promtool rejected the test rules:\n${checked.output}`);
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    stringifyYaml({
      global: { scrape_interval: "1s", evaluation_interval: "1s", scrape_timeout: "1s" },
      rule_files: [rulesFile],
      scrape_configs: [{ job_name: "dcgm", static_configs: [{ targets }] }],
    }),
  );
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await waitFor("Prometheus ready", async () => {
      const response = await fetch(`${url}/-/ready`).catch(() => undefined);
      await response?.body?.cancel();
      return response?.ok;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = await response.json();
    if (body.status !== "success") throw new Error(`Prometheus ${path}: ${JSON.stringify(body)}`);
    return body.data as T;
  };
  return {
    url,
    query: async (promql) =>
      (await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
        `/api/v1/query?query=${encodeURIComponent(promql)}`,
      )).result,
    firingAlerts: async () =>
      (await api<{ alerts: { labels: { alertname: string }; state: string }[] }>("/api/v1/alerts")).alerts
        .filter((a) => a.state === "firing").map((a) => a.labels.alertname),
    [Symbol.asyncDispose]: stop,
  };
}
