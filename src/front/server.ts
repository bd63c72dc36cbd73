/**
 * The HTTP front: routes, access checks, health and metrics, and errors as JSON-RPC objects.
 * Transports own their wire formats; this file only decides who may reach which one.
 */
import { tracing } from '../trace/tracer.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { sendError } from '../http/send-json.ts';
import { boundedResponseClass } from '../http/bounded-response.ts';
import { handleSseOpen, handleSsePost } from '../downstream/sse.ts';
import { Routes } from './routes.ts';
import type { EndpointShared } from './endpoint.ts';
import { applyCors, checkOrigin, type AccessPolicy } from '../http/access.ts';
import { sendJson } from '../http/send-json.ts';
import { isLoopbackHost } from '../config/config.ts';
import { ANONYMOUS, type Principal } from '../identity/principal.ts';
import { METADATA_PREFIX, metadataDocument } from '../identity/resource-metadata.ts';
import { consoleRoutes } from './console/console-routes.ts';

/** `principal`: who the request is; undefined only on a post to an SSE session that sent no credential. */
type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, principal: Principal | undefined) => Promise<void> | void;

interface Route {
  methods: Record<string, Handler>;
  /**
   * `public`: served to anyone (liveness and readiness probes). `session`: a credential is checked if
   * sent, else the session decides (the SDK's SSE client drops /sse's query when it posts).
   */
  access?: 'public' | 'session';
  /** The MCP endpoint a 401 points at (its metadata); '' for the proxy's own routes. */
  resourcePath?: string;
  /** An MCP transport (SDK clients): a refused key is a 403 when no OAuth is configured (Authenticator.keyRefusal). */
  isMcpTransport?: boolean;
}

/** A slow client may not hold a socket by trickling a request body either (slowloris). */
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * The front's life: `serving`; `draining` (SIGTERM: /readyz says 503 so load balancers move away, calls are
 * still served, every response closes its connection); `closed` (the listener is closed, open calls finish).
 */
export type FrontState = 'serving' | 'draining' | 'closed';

export class ProxyServer {
  #shared: EndpointShared;
  #server: Server;
  #fixed: Map<string, Route>;
  #routes: Routes;
  #policy: AccessPolicy;
  #state: FrontState = 'serving';

  constructor(shared: EndpointShared, routes: Routes, status: () => unknown) {
    this.#shared = shared;
    this.#routes = routes;
    const { config } = shared;
    this.#policy = {
      allowOrigins: config.allowOrigins,
      corsOrigins: config.corsOrigins,
      isLoopbackOnly: isLoopbackHost(config.host),
      requiresCredentials: config.requiresCredentials,
    };
    this.#fixed = new Map<string, Route>([
      ['/healthz', { methods: { GET: (_req, res) => sendJson(res, 200, { status: 'ok' }) }, access: 'public' }],
      ['/readyz', { methods: { GET: (_req, res) => this.#ready(res) }, access: 'public' }],
      ['/metrics', { methods: { GET: (_req, res) => this.#metrics(res) } }],
      ['/status', { methods: { GET: (_req, res) => sendJson(res, 200, status(), { 'cache-control': 'no-store' }) } }],
      ...consoleRoutes({
        status, serverNames: () => this.#serverNames(), hasKey: shared.identity.authenticator.isRequired,
        onServerChange: (listener) => routes.onServerChange(listener),
      }),
    ]);
    const headersTimeout = config.headersTimeoutMs;
    this.#server = createServer({
      // Every response kind bounded in one place: a client that stops reading is cut off, never held.
      ServerResponse: boundedResponseClass({
        maxUnsentBytes: config.maxStreamBufferBytes,
        writeTimeoutMs: config.writeTimeoutMs,
        onCut: (reason, res) => {
          shared.metrics.responseCut(reason);
          shared.log.warn('response cut off: the client did not read', { reason, path: (res.req.url ?? '').slice(0, 100) });
        },
      }),
      headersTimeout,
      requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout),
      // Node enforces both timeouts on this sweep (default 30 s); check often enough to honour them.
      connectionsCheckingInterval: Math.min(Math.max(headersTimeout / 4, 250), 5000),
    }, (req, res) => {
      // W3C headers name the caller's span for every message of this request that has no _meta of its own.
      void tracing.withCaller(req.headers, () => this.#handle(req, res));
    });
    this.#server.on('connect', (_req: IncomingMessage, socket: Duplex) => this.#refuseConnect(socket));
    // A client may send anything; a socket-level error is that client's problem only.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    });
  }

  /**
   * CONNECT is no method of ours: without a 'connect' listener Node drops the socket with no answer at all.
   * The JSON-RPC error body is the one every other refusal carries.
   */
  #refuseConnect(socket: Duplex): void {
    const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: RpcCode.invalidRequest, message: 'Method Not Allowed: CONNECT' } });
    socket.on('error', () => socket.destroy());
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nallow: GET, POST, DELETE\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  listen(): Promise<AddressInfo> {
    const { host, port } = this.#shared.config;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Readiness says 503 from now on and every response ends its keep-alive connection; calls are still served. */
  beginDrain(): void {
    if (this.#state === 'serving') this.#state = 'draining';
  }

  /** Stops accepting connections; open ones stay until closeConnections(). */
  stopAccepting(): void {
    this.#state = 'closed';
    this.#server.close();
    this.#server.closeIdleConnections();
  }

  closeConnections(): void {
    this.#server.closeAllConnections();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A client on a draining instance reconnects for its next request, and the load balancer sends it elsewhere.
    if (this.#state !== 'serving') res.setHeader('connection', 'close');
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendError(res, new ProxyError(400, RpcCode.invalidRequest, 'Bad Request: malformed URL'));
    }
    try {
      if (url.pathname.startsWith(METADATA_PREFIX)) return this.#metadata(req, res, url);
      checkOrigin(this.#policy, req);
      if (applyCors(this.#policy, req, res)) return;
      const route = this.#fixed.get(url.pathname) ?? this.#transportRoute(url.pathname);
      if (route === undefined) throw new ProxyError(404, RpcCode.invalidRequest, `Not Found: ${url.pathname.slice(0, 100)}`);
      const handler = route.methods[req.method ?? ''];
      const principal = await this.#principal(req, url, route);
      if (handler === undefined) {
        const allow = Object.keys(route.methods).join(', ');
        throw new ProxyError(405, RpcCode.invalidRequest, `Method Not Allowed: use ${allow}`, { headers: { allow } });
      }
      // Counted per request on MCP routes; a session post is counted against its session's principal.
      if (route.resourcePath !== undefined && route.access !== 'session' && req.method !== 'DELETE' && principal !== undefined) {
        this.#shared.identity.admit(principal);
      }
      await handler(req, res, url, principal);
    } catch (err) {
      this.#fail(req, res, url, err);
    }
  }

  /** Who the request is, per the route's access; throws 401 or 403 (insufficient_scope). */
  async #principal(req: IncomingMessage, url: URL, route: Route): Promise<Principal | undefined> {
    if (route.access === 'public') return ANONYMOUS;
    const { authenticator } = this.#shared.identity;
    if (route.access === 'session' && !authenticator.hasCredential(req, url)) return undefined;
    const resourcePath = route.resourcePath ?? '';
    const principal = await authenticator.authenticate(req, url, resourcePath).catch((err: unknown) => {
      throw (route.isMcpTransport === true && err instanceof ProxyError ? authenticator.keyRefusal(err) : undefined) ?? err;
    });
    authenticator.checkRequiredScopes(principal, resourcePath);
    return principal;
  }

  /** RFC 9728 metadata of the proxy ('') and of each MCP endpoint; public and readable from any origin. */
  #metadata(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const resource = this.#shared.identity.authenticator.resource;
    const path = url.pathname.slice(METADATA_PREFIX.length);
    const transport = path === '' ? 'mcp' : this.#routes.match(path)?.transport;
    if (resource === undefined || (transport !== 'mcp' && transport !== 'sse')) {
      throw new ProxyError(404, RpcCode.invalidRequest, `Not Found: ${url.pathname.slice(0, 100)}`);
    }
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, OPTIONS', 'access-control-allow-headers': 'mcp-protocol-version' };
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    if (req.method !== 'GET') throw new ProxyError(405, RpcCode.invalidRequest, 'Method Not Allowed: use GET', { headers: { allow: 'GET' } });
    sendJson(res, 200, metadataDocument(resource, path), { ...cors, 'cache-control': 'max-age=300' });
  }

  #fail(req: IncomingMessage, res: ServerResponse, url: URL, err: unknown): void {
    if (err instanceof ProxyError) {
      const level = err.status >= 500 ? 'warn' : 'debug';
      this.#shared.log[level]('request refused', { method: req.method, path: url.pathname, status: err.status, reason: err.message });
      if (!res.writableEnded) sendError(res, err, err.requestId);
      return;
    }
    // A bug or an input the code did not foresee (e.g. JSON nested too deep to serialize): never a crash.
    this.#shared.log.error('request failed', { method: req.method, path: url.pathname, error: (err as Error)?.stack ?? String(err) });
    if (!res.writableEnded) sendError(res, new ProxyError(500, RpcCode.internalError, 'Internal error'));
  }

  /** A transport route of an endpoint (the aggregate's, or one server's). */
  #transportRoute(pathname: string): Route | undefined {
    const match = this.#routes.match(pathname);
    if (match === undefined) return undefined;
    const { ctx, streamable, httpTools } = match.endpoint;
    const base = ctx.basePath;
    switch (match.transport) {
      case 'sse':
        return { methods: { GET: (req, res, url, principal) => handleSseOpen(ctx, req, res, url, principal!) }, resourcePath: `${base}/sse`, isMcpTransport: true };
      case 'messages':
        return { methods: { POST: (req, res, url, principal) => handleSsePost(ctx, req, res, url, principal) }, access: 'session', resourcePath: `${base}/sse`, isMcpTransport: true };
      case 'mcp': {
        const mcp: Handler = (req, res, url, principal) => streamable.handle(req, res, url, principal!);
        return { methods: { GET: mcp, POST: mcp, DELETE: mcp }, resourcePath: `${base}/mcp`, isMcpTransport: true };
      }
      // The tools as plain HTTP answer for the same resource as /mcp: same tokens, scopes and rate limit.
      case 'openapi':
        return { methods: { GET: (req, res, url, principal) => httpTools.document(req, res, url, principal!) }, resourcePath: `${base}/mcp` };
      case 'docs':
        return { methods: { GET: (_req, res) => httpTools.docs(res) }, resourcePath: `${base}/mcp` };
      case 'tool':
        return { methods: { POST: (req, res, url, principal) => httpTools.call(req, res, url, match.tool!, principal!) }, resourcePath: `${base}/mcp` };
    }
  }

  /** Servers with their own routes: none in the single-server form. */
  #serverNames(): string[] {
    return this.#routes.aggregate === undefined ? [] : this.#routes.endpoints.slice(1).map(({ server }) => server);
  }

  /** Ready while the endpoint at the root can serve (the aggregate: while any member can), with each server's state; never while draining. */
  #ready(res: ServerResponse): void {
    if (this.#state !== 'serving') return sendJson(res, 503, { status: 'draining', reason: 'the proxy is shutting down' });
    const reasons: Record<string, string> = {};
    for (const { server, endpoint } of this.#routes.endpoints) {
      const reason = endpoint.ctx.backend.notReadyReason();
      if (reason !== undefined) reasons[server] = reason;
    }
    const rootReason = this.#routes.root.ctx.backend.notReadyReason();
    const servers = Object.keys(reasons).length === 0 ? undefined : reasons;
    if (rootReason === undefined) sendJson(res, 200, { status: 'ready', notReady: servers });
    else sendJson(res, 503, { status: 'not ready', reason: rootReason, notReady: servers });
  }

  #metrics(res: ServerResponse): void {
    const gauges = this.#routes.endpoints.map(({ server, endpoint }) => {
      const { backend, sessions } = endpoint.ctx;
      const isAggregate = endpoint === this.#routes.root && this.#routes.aggregate !== undefined;
      return isAggregate
        ? { server, sessions: sessions.countByTransport() }
        : {
          server, sessions: sessions.countByTransport(), children: backend.childCount, pending: backend.pendingCount,
          isUp: backend.notReadyReason() === undefined, replicas: this.#routes.unitOf(server)?.replicas,
          usage: (backend.usage ?? []).reduce((sum, u) => ({ cpuSeconds: sum.cpuSeconds + u.cpuSeconds, rssBytes: sum.rssBytes + u.rssBytes }), { cpuSeconds: 0, rssBytes: 0 }),
        };
    });
    const body = this.#shared.metrics.render(gauges);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  }
}
