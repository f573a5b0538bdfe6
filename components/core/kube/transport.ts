/**
 * The HTTP transport under {@link ../client.ts}: Deno fetch clients built from {@link KubeAccess}.
 *
 * - Direct mode: `Deno.createHttpClient({ caCerts, cert, key })` against the server URL.
 * - Bridge mode, for `insecure-skip-tls-verify` or a `tls-server-name` different from the server host: plain
 *   HTTP to a private unix socket whose connections a {@link startTlsBridge} forwards over TLS.
 *
 * Requests share one pooled HTTP/1.1 client (HTTP/2 would multiplex every request onto one TCP connection, so a
 * silently dead connection would stall them all). Each watch gets a dedicated client that is closed with the
 * watch, so aborting a watch always tears its TCP connection down. The bridge (and `node:tls`, 5 MiB of RSS)
 * is loaded only when a kubeconfig needs it.
 *
 * @module
 */

import type { KubeAccess, KubeCredentials } from "./kubeconfig.ts";
import type { TlsBridge, TlsIdentity } from "./tls_bridge.ts";

const POOL_IDLE_TIMEOUT_MS = 30_000;

/** Deno fetch clients for one API server. */
export class Transport {
  /** Base URL to prefix API paths with (no trailing slash). */
  readonly baseUrl: string;
  #access: KubeAccess;
  #bridge?: TlsBridge;
  #identity: TlsIdentity = {};
  #shared?: { client: Deno.HttpClient; identity: string };

  private constructor(access: KubeAccess, baseUrl: string) {
    this.#access = access;
    this.baseUrl = baseUrl;
  }

  /**
   * Creates the transport, starting a TLS bridge when the kubeconfig needs one.
   *
   * @param access The resolved settings.
   * @returns The transport; {@link Transport.close} releases it.
   */
  static async create(access: KubeAccess): Promise<Transport> {
    const url = new URL(access.server);
    const needsBridge = url.protocol === "https:" &&
      (access.insecureSkipTlsVerify ||
        (access.tlsServerName !== undefined && access.tlsServerName !== url.hostname));
    if (!needsBridge) return new Transport(access, access.server);
    if (access.proxyUrl) {
      throw new TypeError(
        `Cannot use proxy-url "${access.proxyUrl}" together with insecure-skip-tls-verify or tls-server-name`,
      );
    }
    const transport: Transport = new Transport(
      access,
      `http://${url.host}${url.pathname.replace(/\/$/, "")}`,
    );
    const { startTlsBridge } = await import("./tls_bridge.ts");
    transport.#bridge = await startTlsBridge({
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(url.port || 443),
      serverName: access.tlsServerName,
      insecure: access.insecureSkipTlsVerify,
      caCerts: access.caCerts,
      identity: () => transport.#identity,
    });
    return transport;
  }

  /** Creates a fetch client presenting the credentials' client certificate, if any. */
  #createClient(credentials: KubeCredentials): Deno.HttpClient {
    if (this.#bridge) {
      // The bridge reads the identity for every new upstream connection.
      this.#identity = { cert: credentials.cert, key: credentials.key };
      return Deno.createHttpClient({
        proxy: { transport: "unix", path: this.#bridge.socketPath },
        http2: false,
      });
    }
    const options: Deno.CreateHttpClientOptions = {
      caCerts: this.#access.caCerts,
      http2: false,
      poolIdleTimeout: POOL_IDLE_TIMEOUT_MS,
      proxy: this.#access.proxyUrl ? { url: this.#access.proxyUrl } : undefined,
    };
    if (credentials.cert && credentials.key) {
      return Deno.createHttpClient({ ...options, cert: credentials.cert, key: credentials.key });
    }
    return Deno.createHttpClient(options);
  }

  /**
   * Returns the shared pooled client for the given credentials, rebuilding it when the client certificate
   * changed (exec plugins may rotate it).
   *
   * @param credentials The credentials of the request.
   * @returns The shared client; do not close it.
   */
  sharedClient(credentials: KubeCredentials): Deno.HttpClient {
    const identity = `${credentials.cert ?? ""}\n${credentials.key ?? ""}`;
    if (this.#shared?.identity !== identity) {
      this.#shared?.client.close();
      this.#shared = { client: this.#createClient(credentials), identity };
    }
    return this.#shared.client;
  }

  /**
   * Creates a client for one long-running request; the caller closes it.
   *
   * @param credentials The credentials of the request.
   * @returns A new client.
   */
  dedicatedClient(credentials: KubeCredentials): Deno.HttpClient {
    return this.#createClient(credentials);
  }

  /** Closes the shared client and the bridge. */
  close(): void {
    this.#shared?.client.close();
    this.#shared = undefined;
    this.#bridge?.close();
  }
}
