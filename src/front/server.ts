/**
 * The HTTP front: routes, access checks, health and metrics, and errors as JSON-RPC objects.
 * Transports own their wire formats; this file only decides who may reach which one.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { sendError } from '../http/send-json.ts';
import { handleSseOpen, handleSsePost } from '../downstream/sse.ts';
import { Routes } from './routes.ts';
import type { EndpointShared } from './endpoint.ts';
import { applyCors, checkAuth, checkOrigin, type AccessPolicy } from '../http/access.ts';
import { sendJson } from '../http/send-json.ts';
import { isLoopbackHost } from '../config/config.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;

interface Route {
  methods: Record<string, Handler>;
  /** Served without the access key (liveness and readiness probes). */
  isPublic?: boolean;
}

/** A slow client may not hold a socket by trickling a request body either (slowloris). */
const REQUEST_TIMEOUT_MS = 60_000;

export class ProxyServer {
  #shared: EndpointShared;
  #server: Server;
  #fixed: Map<string, Route>;
  #routes: Routes;
  #policy: AccessPolicy;

  constructor(shared: EndpointShared, routes: Routes, status: () => unknown) {
    this.#shared = shared;
    this.#routes = routes;
    const { config } = shared;
    this.#policy = {
      authKey: config.authKey,
      allowOrigins: config.allowOrigins,
      corsOrigins: config.corsOrigins,
      isLoopbackOnly: isLoopbackHost(config.host),
    };
    this.#fixed = new Map<string, Route>([
      ['/healthz', { methods: { GET: (_req, res) => sendJson(res, 200, { status: 'ok' }) }, isPublic: true }],
      ['/readyz', { methods: { GET: (_req, res) => this.#ready(res) }, isPublic: true }],
      ['/metrics', { methods: { GET: (_req, res) => this.#metrics(res) } }],
      ['/status', { methods: { GET: (_req, res) => sendJson(res, 200, status(), { 'cache-control': 'no-store' }) } }],
    ]);
    const headersTimeout = config.headersTimeoutMs;
    this.#server = createServer({
      headersTimeout,
      requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout),
      // Node enforces both timeouts on this sweep (default 30 s); check often enough to honour them.
      connectionsCheckingInterval: Math.min(Math.max(headersTimeout / 4, 250), 5000),
    }, (req, res) => {
      void this.#handle(req, res);
    });
    // A client may send anything; a socket-level error is that client's problem only.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    });
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

  /** Stops accepting connections; open ones stay until closeConnections(). */
  stopAccepting(): void {
    this.#server.close();
    this.#server.closeIdleConnections();
  }

  closeConnections(): void {
    this.#server.closeAllConnections();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return sendError(res, new ProxyError(400, RpcCode.invalidRequest, 'Bad Request: malformed URL'));
    }
    try {
      checkOrigin(this.#policy, req);
      if (applyCors(this.#policy, req, res)) return;
      const route = this.#fixed.get(url.pathname) ?? this.#transportRoute(url.pathname);
      if (route === undefined) throw new ProxyError(404, RpcCode.invalidRequest, `Not Found: ${url.pathname.slice(0, 100)}`);
      if (route.isPublic !== true) checkAuth(this.#policy, req, url);
      const handler = route.methods[req.method ?? ''];
      if (handler === undefined) {
        const allow = Object.keys(route.methods).join(', ');
        throw new ProxyError(405, RpcCode.invalidRequest, `Method Not Allowed: use ${allow}`, { headers: { allow } });
      }
      await handler(req, res, url);
    } catch (err) {
      this.#fail(req, res, url, err);
    }
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
    const { ctx, streamable } = match.endpoint;
    switch (match.transport) {
      case 'sse':
        return { methods: { GET: (req, res, url) => handleSseOpen(ctx, req, res, url) } };
      case 'messages':
        // The session id in the query is the capability: the SDK drops /sse's query (and auth_key) when posting.
        return { methods: { POST: (req, res, url) => handleSsePost(ctx, req, res, url) }, isPublic: true };
      case 'mcp': {
        const mcp: Handler = (req, res, url) => streamable.handle(req, res, url);
        return { methods: { GET: mcp, POST: mcp, DELETE: mcp } };
      }
    }
  }

  /** Ready while the endpoint at the root can serve (the aggregate: while any member can), with each server's state. */
  #ready(res: ServerResponse): void {
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
        };
    });
    const body = this.#shared.metrics.render(gauges);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(body);
  }
}
