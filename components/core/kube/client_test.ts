import assert from "node:assert/strict";
import { connect, KubeApiError, type KubeClient } from "./client.ts";

type Handler = (request: Request, index: number) => Response | Promise<Response>;

/** What a test can inspect about a request after it was answered. */
interface Seen {
  url: string;
  headers: Headers;
}

/** A local plain-HTTP endpoint answering with scripted responses, and a client connected to it. */
async function withServer(
  handler: Handler,
  fn: (client: KubeClient, requests: Seen[]) => Promise<void>,
  options: { requestTimeoutMs?: number; qps?: number; burst?: number } = {},
): Promise<void> {
  const requests: Seen[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    requests.push({ url: request.url, headers: new Headers(request.headers) });
    return handler(request, requests.length - 1);
  });
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/config`,
    JSON.stringify({
      "current-context": "c",
      clusters: [{ name: "c", cluster: { server: `http://127.0.0.1:${server.addr.port}` } }],
      users: [{ name: "u", user: { token: "t0ken" } }],
      contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
    }),
  );
  const client = await connect({ kubeconfig: `${dir}/config`, userAgent: "fakegpu-test", ...options });
  try {
    await fn(client, requests);
  } finally {
    client.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function status(code: number, reason: string, message: string): Response {
  return json({ kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code }, code);
}

Deno.test("KubeClient retries a 503 on GET and sends token and user agent", async () => {
  await withServer(
    (_request, index) =>
      index === 0 ? status(503, "ServiceUnavailable", "busy") : json({ metadata: { name: "n" } }),
    async (client, requests) => {
      assert.deepEqual(await client.get("/api/v1/nodes/n"), { metadata: { name: "n" } });
      assert.equal(requests.length, 2);
      assert.equal(requests[1].headers.get("Authorization"), "Bearer t0ken");
      assert.equal(requests[1].headers.get("User-Agent"), "fakegpu-test");
    },
  );
});

Deno.test("KubeClient surfaces 409 at once with the Status message", async () => {
  await withServer(
    () => status(409, "Conflict", 'Operation cannot be fulfilled on nodes "n"'),
    async (client, requests) => {
      await assert.rejects(() => client.replace("/api/v1/nodes/n", {}), (error) => {
        assert.ok(error instanceof KubeApiError);
        assert.equal(error.status, 409);
        assert.equal(error.reason, "Conflict");
        assert.equal(
          error.message,
          'PUT /api/v1/nodes/n: 409 Conflict: Operation cannot be fulfilled on nodes "n"',
        );
        return true;
      });
      assert.equal(requests.length, 1);
    },
  );
});

Deno.test("KubeClient retries POST on 429 but not on 500", async () => {
  await withServer(
    (request, index) => {
      if (new URL(request.url).pathname === "/throttled") {
        return index === 0 ? status(429, "TooManyRequests", "slow down") : json({ ok: true }, 201);
      }
      return status(500, "InternalError", "boom");
    },
    async (client, requests) => {
      assert.deepEqual(await client.create("/throttled", {}), { ok: true });
      await assert.rejects(() => client.create("/failing", {}), /POST \/failing: 500 InternalError: boom/);
      assert.equal(requests.length, 3);
    },
  );
});

Deno.test("KubeClient maps 404 to undefined for get and false for delete", async () => {
  await withServer(() => status(404, "NotFound", 'nodes "x" not found'), async (client) => {
    assert.equal(await client.get("/api/v1/nodes/x"), undefined);
    assert.equal(await client.delete("/api/v1/nodes/x"), false);
    await assert.rejects(() => client.replace("/api/v1/nodes/x", {}), /^Error: PUT|404 NotFound/);
  });
});

Deno.test("KubeClient.list() follows continue pages and types the items", async () => {
  await withServer((request) => {
    const url = new URL(request.url);
    const page = url.searchParams.get("continue") ?? "0";
    const next = page === "0" ? "1" : page === "1" ? "2" : "";
    return json({
      apiVersion: "v1",
      kind: "NodeList",
      metadata: { resourceVersion: "42", continue: next },
      items: [{ metadata: { name: `node-${page}` } }],
    });
  }, async (client, requests) => {
    const result = await client.list<{ kind?: string; metadata: { name: string } }>("/api/v1/nodes", {
      labelSelector: "a=b",
      limit: 1,
    });
    assert.deepEqual(result.items.map((n) => n.metadata.name), ["node-0", "node-1", "node-2"]);
    assert.equal(result.items[0].kind, "Node");
    assert.equal(result.resourceVersion, "42");
    const query = new URL(requests[1].url).searchParams;
    assert.equal(query.get("labelSelector"), "a=b");
    assert.equal(query.get("limit"), "1");
    assert.equal(query.get("continue"), "1");
  });
});

Deno.test("KubeClient.list() lists without pages when the continue token expired", async () => {
  await withServer((request) => {
    const query = new URL(request.url).searchParams;
    if (query.get("continue")) return status(410, "Expired", "continue token expired");
    if (query.get("limit")) {
      return json({ metadata: { resourceVersion: "1", continue: "x" }, items: [{ n: 1 }] });
    }
    return json({ metadata: { resourceVersion: "9" }, items: [{ n: 1 }, { n: 2 }] });
  }, async (client) => {
    const result = await client.list("/api/v1/pods");
    assert.equal(result.items.length, 2);
    assert.equal(result.resourceVersion, "9");
  });
});

Deno.test("KubeClient times out a silent request and retries it", async () => {
  await withServer(
    async (_request, index) => {
      if (index === 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      return json({ ok: index });
    },
    async (client, requests) => {
      assert.deepEqual(await client.get("/slow"), { ok: 1 });
      assert.equal(requests.length, 2);
    },
    { requestTimeoutMs: 200 },
  );
});

Deno.test("KubeClient.apply() and mergePatch() send the patch content types and field manager", async () => {
  await withServer(
    (request) => json({ contentType: request.headers.get("Content-Type"), url: request.url }),
    async (client) => {
      const applied = await client.apply<{ contentType: string; url: string }>("/api/v1/nodes/n", { a: 1 }, {
        fieldManager: "fm",
        force: true,
      });
      assert.equal(applied.contentType, "application/apply-patch+yaml");
      assert.match(applied.url, /\?fieldManager=fm&force=true$/);
      const patched = await client.mergePatch<{ contentType: string }>("/api/v1/nodes/n/status", {
        status: {},
      });
      assert.equal(patched.contentType, "application/merge-patch+json");
    },
  );
});

Deno.test("KubeClient.watch() yields events and turns ERROR objects into a status", async () => {
  const lines = [
    { type: "ADDED", object: { metadata: { name: "a", resourceVersion: "2" } } },
    { type: "BOOKMARK", object: { metadata: { resourceVersion: "3" } } },
    { type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired", message: "too old" } },
  ].map((line) => JSON.stringify(line) + "\n").join("");
  await withServer(() => new Response(lines), async (client, requests) => {
    const events = [];
    for await (
      const event of client.watch("/api/v1/nodes", {
        resourceVersion: "1",
        signal: AbortSignal.timeout(5000),
      })
    ) {
      events.push(event);
    }
    assert.deepEqual(events.map((e) => e.type), ["ADDED", "BOOKMARK", "ERROR"]);
    assert.deepEqual(events[2], {
      type: "ERROR",
      status: { kind: "Status", code: 410, reason: "Expired", message: "too old" },
    });
    const query = new URL(requests[0].url).searchParams;
    assert.equal(query.get("watch"), "true");
    assert.equal(query.get("resourceVersion"), "1");
    assert.equal(query.get("allowWatchBookmarks"), "true");
    assert.equal(query.get("timeoutSeconds"), "300");
  });
});

Deno.test("KubeClient rate limits requests with its token bucket", async () => {
  await withServer(() => json({}), async (client) => {
    const started = performance.now();
    for (let i = 0; i < 5; i++) await client.get("/x");
    assert.ok(performance.now() - started >= 150, "5 requests at qps 20 / burst 1 take at least 200 ms");
  }, { qps: 20, burst: 1 });
});

Deno.test("connect() names an invalid option", async () => {
  await assert.rejects(() => connect({ qps: -1 }), /Cannot connect to Kubernetes: qps: /);
});

Deno.test("KubeClient names the timeout when a POST gets no answer", async () => {
  await withServer(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 500));
      return json({});
    },
    async (client, requests) => {
      await assert.rejects(
        () => client.create("/slow", {}),
        /^Error: POST \/slow: no response within 100 ms$/,
      );
      assert.equal(requests.length, 1);
    },
    { requestTimeoutMs: 100 },
  );
});
