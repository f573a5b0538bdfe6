/**
 * A private TLS bridge for the two kubeconfig settings `Deno.createHttpClient` cannot express:
 * `insecure-skip-tls-verify` (Deno only offers the process-wide `--unsafely-ignore-certificate-errors` flag) and
 * `tls-server-name` (Deno always verifies against the URL host).
 *
 * Deno's fetch speaks plain HTTP/1.1 to a unix socket in a fresh `0700` temporary directory (through the
 * `unix` proxy transport of `Deno.createHttpClient`); each accepted connection is forwarded over its own
 * `node:tls` connection to the API server, with the server name and verification the kubeconfig asks for.
 * Connection life cycles are tied together: when either side closes, errors or resets, both are torn down, so
 * a reset upstream surfaces as a body error in fetch and an aborted fetch closes the upstream connection.
 *
 * Permissions: `--allow-read` and `--allow-write` on the temporary directory, `--allow-net` to the server.
 *
 * @module
 */

import tls from "node:tls";
import { log } from "../log.ts";

/** The TLS client identity presented upstream; read for every new upstream connection. */
export interface TlsIdentity {
  /** PEM client certificate chain. */
  cert?: string;
  /** PEM private key. */
  key?: string;
}

/** Where and how {@link startTlsBridge} connects upstream. */
export interface TlsBridgeOptions {
  /** Upstream host name or IP. */
  host: string;
  /** Upstream port. */
  port: number;
  /** SNI and verification name; defaults to `host`. */
  serverName?: string;
  /** Skips certificate verification entirely. */
  insecure: boolean;
  /** PEM CA certificates to verify against (system roots when empty). */
  caCerts: string[];
  /** The client identity to present; called for every new upstream connection. */
  identity: () => TlsIdentity;
}

/** A running bridge. */
export interface TlsBridge {
  /** The unix socket to point `Deno.createHttpClient({ proxy: { transport: "unix", path } })` at. */
  readonly socketPath: string;
  /** Stops accepting, closes every bridged connection and removes the socket directory. */
  close(): void;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/** Forwards one accepted downstream connection over a new upstream TLS connection until either side ends. */
function bridgeConnection(
  conn: Deno.Conn,
  options: TlsBridgeOptions,
  live: Set<(reason: string) => void>,
): void {
  const identity = options.identity();
  const serverName = options.serverName ?? options.host;
  const upstream = tls.connect({
    host: options.host,
    port: options.port,
    servername: isIpAddress(serverName) ? undefined : serverName,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
    rejectUnauthorized: !options.insecure,
    ca: options.caCerts.length > 0 ? options.caCerts : undefined,
    cert: identity.cert,
    key: identity.key,
    ALPNProtocols: ["http/1.1"],
  });
  let closed = false;
  function shutdown(reason: string): void {
    if (closed) return;
    closed = true;
    live.delete(shutdown);
    log.debug("kube tls bridge connection closed", { reason });
    upstream.destroy();
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  live.add(shutdown);
  upstream.on("data", (chunk: Uint8Array) => {
    upstream.pause();
    writeAll(conn, chunk).then(() => upstream.resume(), () => shutdown("downstream write failed"));
  });
  upstream.on("error", (error: Error) => shutdown(`upstream error: ${error.message}`));
  upstream.on("close", () => shutdown("upstream closed"));
  (async () => {
    const buffer = new Uint8Array(64 * 1024);
    while (!closed) {
      const n = await conn.read(buffer);
      if (n === null) break;
      if (!upstream.write(buffer.slice(0, n))) {
        await new Promise((resolve) => upstream.once("drain", resolve));
      }
    }
  })().catch(() => {}).finally(() => shutdown("downstream closed"));
}

/**
 * Starts a bridge listening on a unix socket in a new private temporary directory.
 *
 * @param options The upstream server and TLS settings.
 * @returns The running bridge.
 */
export async function startTlsBridge(options: TlsBridgeOptions): Promise<TlsBridge> {
  const dir = await Deno.makeTempDir({ prefix: "fakegpu-kube-" });
  await Deno.chmod(dir, 0o700);
  const socketPath = `${dir}/apiserver.sock`;
  const listener = Deno.listen({ transport: "unix", path: socketPath });
  const live = new Set<(reason: string) => void>();
  let stopped = false;
  (async () => {
    for await (const conn of listener) bridgeConnection(conn, options, live);
  })().catch((error) => {
    if (!stopped) log.error("kube tls bridge stopped accepting", { error });
  });
  return {
    socketPath,
    close() {
      if (stopped) return;
      stopped = true;
      listener.close();
      for (const shutdown of [...live]) shutdown("bridge closed");
      Deno.removeSync(dir, { recursive: true });
    },
  };
}
