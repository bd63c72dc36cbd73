/**
 * Streamable HTTP (MCP 2025-03-26, 2025-06-18, 2025-11-25) on one endpoint: POST carries client
 * messages, GET opens the session's standalone stream, DELETE ends the session. A POSTed request is
 * answered as plain JSON unless something related to it (progress, a server request) comes first; then
 * the answer switches to an SSE stream that carries those messages and ends with the reply.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyContext } from './context.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { isJsonContentType, parseJson, readBody, toMessages } from '../http/body.ts';
import { isObject } from '../protocol/message.ts';
import { isLegacyVersion, isModernVersion } from '../protocol/versions.ts';
import { classifyPost, header } from './stateless/envelope.ts';
import type { Headers } from '../protocol/header-values.ts';
import type { StatelessHandler } from './stateless/stateless.ts';
import { openSession } from './open-session.ts';
import { SESSION_HEADER, StreamableSession } from './streamable-session.ts';
import type { Principal } from '../identity/principal.ts';

const VERSION_HEADER = 'mcp-protocol-version';

function accepts(req: IncomingMessage, type: string): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes(type) || accept.includes('*/*');
}

export class StreamableTransport {
  #ctx: ProxyContext;
  #stateless: StatelessHandler;
  #sessions = new Set<StreamableSession>();
  #timer: NodeJS.Timeout | undefined;

  constructor(ctx: ProxyContext, stateless: StatelessHandler) {
    this.#ctx = ctx;
    this.#stateless = stateless;
    const { heartbeatMs, sessionIdleTimeoutMs } = ctx.config;
    const tickMs = Math.max(1000, Math.min(heartbeatMs > 0 ? heartbeatMs / 2 : 30_000, sessionIdleTimeoutMs / 2 || 30_000));
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** `principal`: who the request is; a session answers only the principal that opened it. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, principal: Principal): Promise<void> {
    switch (req.method) {
      case 'POST':
        return this.#post(req, res, url, principal);
      case 'GET':
        return this.#get(req, res, principal);
      case 'DELETE':
        return this.#delete(req, res, principal);
    }
  }

  async #post(req: IncomingMessage, res: ServerResponse, url: URL, principal: Principal): Promise<void> {
    if (!isJsonContentType(req.headers['content-type'])) {
      throw new ProxyError(415, RpcCode.invalidRequest, 'Unsupported Media Type: Content-Type must be application/json');
    }
    const body = await readBody(req, this.#ctx.config.maxBodyBytes);
    this.#ctx.metrics.bytesIn += body.length;
    const value = parseJson(body);
    // The body decides the era (a missing or stripped header never does): MCP-ERAS §1.4.
    if (classifyPost(value, req.headers as Headers) === 'modern') return this.#stateless.handle(req, res, url, value, principal);
    if (!accepts(req, 'application/json') || !accepts(req, 'text/event-stream')) {
      throw new ProxyError(406, RpcCode.invalidRequest, 'Not Acceptable: Accept must list application/json and text/event-stream');
    }
    const sessionId = header(req.headers, SESSION_HEADER);
    const isInitialize = isObject(value) && value.method === 'initialize' && value.id !== undefined;
    if (isInitialize || (Array.isArray(value) && value.some((m) => isObject(m) && m.method === 'initialize'))) {
      if (!isInitialize) throw new ProxyError(400, RpcCode.invalidRequest, 'Invalid Request: initialize must not be part of a batch');
      if (sessionId !== undefined && this.#ctx.sessions.get(sessionId, principal) !== undefined) {
        throw new ProxyError(400, RpcCode.invalidRequest, 'Invalid Request: session already initialized');
      }
      const messages = toMessages(value, false);
      const session = await openSession(this.#ctx, req, url, 'streamable', principal, (id) => new StreamableSession(this.#ctx, id, principal));
      this.#track(session);
      session.post(messages, res, false);
      return;
    }
    const session = this.#session(req, principal);
    const version = this.#version(req, session);
    session.post(toMessages(value, version === '2025-03-26'), res, Array.isArray(value));
  }

  #get(req: IncomingMessage, res: ServerResponse, principal: Principal): void {
    if (!accepts(req, 'text/event-stream')) throw new ProxyError(406, RpcCode.invalidRequest, 'Not Acceptable: Accept must list text/event-stream');
    const session = this.#session(req, principal);
    this.#version(req, session);
    session.resume(req, res);
  }

  #delete(req: IncomingMessage, res: ServerResponse, principal: Principal): void {
    const session = this.#session(req, principal);
    session.close('deleted by client');
    res.writeHead(200).end();
  }

  #session(req: IncomingMessage, principal: Principal): StreamableSession {
    const sessionId = header(req.headers, SESSION_HEADER);
    if (sessionId === undefined && req.method !== 'POST' && isModernVersion(header(req.headers, VERSION_HEADER))) {
      // 2026-07-28 is POST only: no standalone stream, no session to delete.
      throw new ProxyError(405, RpcCode.invalidRequest, 'Method Not Allowed: protocol 2026-07-28 uses POST only', { headers: { allow: 'POST' } });
    }
    if (sessionId === undefined) throw new ProxyError(400, RpcCode.invalidRequest, 'Bad Request: Mcp-Session-Id header required');
    const session = this.#ctx.sessions.get(sessionId, principal);
    if (!(session instanceof StreamableSession) || session.isClosed) throw new ProxyError(404, RpcCode.sessionNotFound, 'Session not found');
    return session;
  }

  /** MCP-Protocol-Version: absent means the negotiated one; an unknown value is a 400 (spec). */
  #version(req: IncomingMessage, session: StreamableSession): string {
    const version = header(req.headers, VERSION_HEADER);
    if (version === undefined) return session.protocolVersion;
    if (!isLegacyVersion(version)) throw new ProxyError(400, RpcCode.invalidRequest, `Bad Request: unsupported MCP-Protocol-Version ${String(version).slice(0, 40)}`);
    return version;
  }

  #track(session: StreamableSession): void {
    this.#sessions.add(session);
  }

  #tick(): void {
    const now = Date.now();
    const { heartbeatMs, sessionIdleTimeoutMs } = this.#ctx.config;
    for (const session of this.#sessions) {
      if (session.isClosed) {
        this.#sessions.delete(session);
        continue;
      }
      if (heartbeatMs > 0) session.keepAlive(now, heartbeatMs);
      if (sessionIdleTimeoutMs > 0 && session.isIdle(now, sessionIdleTimeoutMs)) session.close('idle timeout');
    }
  }
}
