/**
 * The legacy HTTP+SSE transport (MCP 2024-11-05): `GET /sse` opens a stream whose first event names
 * the URL to POST to; `POST /messages?session_id=` carries one client message and is answered 202;
 * everything for the client arrives as `event: message` on the stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyContext } from './context.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { parseJson, readBody, toMessages } from '../http/body.ts';
import { SseWriter } from '../http/sse-writer.ts';
import { serialize, type JsonRpcMessage } from '../protocol/message.ts';
import type { ClientLink } from '../servers/contract.ts';
import type { DownstreamSession } from './sessions.ts';
import { closeSession, openSession } from './open-session.ts';
import type { Principal } from '../identity/principal.ts';

class SseSession implements DownstreamSession, ClientLink {
  readonly id: string;
  readonly transport = 'sse' as const;
  readonly principal: Principal;
  #ctx: ProxyContext;
  #writer: SseWriter | undefined;
  #isClosed = false;

  constructor(ctx: ProxyContext, id: string, principal: Principal) {
    this.#ctx = ctx;
    this.id = id;
    this.principal = principal;
  }

  /** The stream opens only once the backend took the session, so a failed spawn can still be an HTTP error. */
  attach(res: ServerResponse): void {
    const writer = new SseWriter(res, this.#ctx.config.maxStreamBufferBytes);
    this.#writer = writer;
    writer.onClose(() => this.close(writer.isCutOff ? 'cut off: the client did not read (over --max-stream-buffer)' : 'stream closed'));
    this.#ctx.heartbeat.add(writer);
    // A path relative to the host: the SDK resolves it against the /sse URL and keeps the origin.
    writer.send(`${this.#ctx.basePath}/messages?session_id=${encodeURIComponent(this.id)}`, 'endpoint');
  }

  deliver(msg: JsonRpcMessage): void {
    if (this.#writer === undefined) return;
    const data = serialize(msg);
    this.#ctx.metrics.bytesOut += data.length;
    this.#writer.send(data);
  }

  end(reason: string): void {
    this.close(reason);
  }

  close(reason: string): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#writer?.end();
    closeSession(this.#ctx, this, reason);
  }
}

export async function handleSseOpen(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, url: URL, principal: Principal): Promise<void> {
  const session = await openSession(ctx, req, url, 'sse', principal, (id) => new SseSession(ctx, id, principal));
  session.attach(res);
}

/**
 * `principal`: who the post's own credential says it is, or undefined when it carries none (then the
 * session must allow that: see mayUseSession). The rate limit counts against the session's principal.
 */
export async function handleSsePost(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, url: URL, principal: Principal | undefined): Promise<void> {
  const sessionId = url.searchParams.get('session_id') ?? url.searchParams.get('sessionId');
  if (sessionId === null || sessionId === '') throw new ProxyError(400, RpcCode.invalidRequest, 'Bad Request: session_id query parameter required');
  const session = ctx.sessions.get(sessionId, principal);
  if (session === undefined || session.transport !== 'sse') throw new ProxyError(404, RpcCode.sessionNotFound, 'Session not found');
  ctx.identity.admit(session.principal);
  const body = await readBody(req, ctx.config.maxBodyBytes);
  ctx.metrics.bytesIn += body.length;
  // JSON-RPC 2.0 allows batches and 2024-11-05 does not forbid them: accept them here.
  const messages = toMessages(parseJson(body), true);
  for (const msg of messages) ctx.gated.receive(sessionId, msg);
  res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
}
