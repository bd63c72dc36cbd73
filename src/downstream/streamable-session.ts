/**
 * One Streamable HTTP session: its POSTed requests answered as JSON or upgraded to an SSE stream when
 * something related comes first, its standalone GET stream, resumption from `Last-Event-ID`, and what
 * it keeps for that.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyContext } from './context.ts';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { isNotification, isObject, isRequest, isResponse, serialize, type JsonRpcId, type JsonRpcMessage, type JsonRpcResponse } from '../protocol/message.ts';
import { DEFAULT_HTTP_VERSION, isLegacyVersion } from '../protocol/versions.ts';
import type { ClientLink } from '../servers/contract.ts';
import type { DownstreamSession } from './sessions.ts';
import { EventStream, parseEventId, type StreamLimits } from './event-stream.ts';
import { SSE_HEADERS } from '../http/sse-writer.ts';
import { closeSession } from './open-session.ts';
import type { Principal } from '../identity/principal.ts';

export const SESSION_HEADER = 'mcp-session-id';
const STANDALONE_STREAM = 0;
/** How long a client waits before reconnecting a stream the server closed (the `retry` field). */
const RETRY_MS = 1000;
/** First revision with the priming event; older clients choke on an event with empty data. */
const PRIMING_VERSION = '2025-11-25';
const REPLAY_BYTES = 8 * 1024 * 1024;
/** Streams (live or kept for resumption) a session may hold; the standalone stream counts as one. */
const MAX_KEPT_STREAMS = 64;

/** One POST that carried requests: answered as JSON when every reply comes first, else as an SSE stream. */
interface Exchange {
  res: ServerResponse;
  awaiting: Set<JsonRpcId>;
  replies: JsonRpcResponse[];
  isBatch: boolean;
  stream: EventStream | undefined;
  startedMs: number;
}

export class StreamableSession implements DownstreamSession, ClientLink {
  readonly id: string;
  readonly transport = 'streamable' as const;
  readonly principal: Principal;
  /** Negotiated by this session's initialize; until then the spec's default. */
  protocolVersion = DEFAULT_HTTP_VERSION;
  #ctx: ProxyContext;
  #limits: StreamLimits;
  #initializeId: JsonRpcId | undefined;
  #exchanges = new Map<JsonRpcId, Exchange>();
  #streams = new Map<number, EventStream>();
  #nextStreamNo = 1;
  #lastActiveMs = Date.now();
  #isClosed = false;

  constructor(ctx: ProxyContext, id: string, principal: Principal) {
    this.#ctx = ctx;
    this.id = id;
    this.principal = principal;
    this.#limits = { maxBufferBytes: ctx.config.maxStreamBufferBytes, replayEvents: ctx.config.replayBufferEvents, replayBytes: REPLAY_BYTES };
    this.#streams.set(STANDALONE_STREAM, new EventStream(STANDALONE_STREAM, this.#limits, ctx.heartbeat));
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Sends `messages` to the backend; requests among them are answered on `res`. */
  post(messages: JsonRpcMessage[], res: ServerResponse, isBatch: boolean): void {
    this.#lastActiveMs = Date.now();
    const requestIds = messages.filter(isRequest).map((msg) => msg.id);
    if (requestIds.some((id) => this.#exchanges.has(id)) || new Set(requestIds).size !== requestIds.length) {
      throw new ProxyError(400, RpcCode.invalidRequest, 'Invalid Request: a request with this id is already in flight in this session');
    }
    for (const msg of messages) {
      if (isNotification(msg) && msg.method === 'notifications/cancelled') this.#cancelled(msg.params?.requestId as JsonRpcId | undefined);
    }
    if (requestIds.length === 0) {
      for (const msg of messages) this.#ctx.gated.receive(this.id, msg);
      res.writeHead(202).end();
      return;
    }
    const exchange: Exchange = { res, awaiting: new Set(requestIds), replies: [], isBatch, stream: undefined, startedMs: Date.now() };
    for (const requestId of requestIds) this.#exchanges.set(requestId, exchange);
    res.once('close', () => this.#abandon(exchange));
    for (const msg of messages) {
      if (isRequest(msg) && msg.method === 'initialize') this.#initializeId = msg.id;
      this.#ctx.gated.receive(this.id, msg);
    }
  }

  /** GET: the standalone stream, or (with Last-Event-ID) the rest of the stream that event belongs to. */
  resume(req: IncomingMessage, res: ServerResponse): void {
    this.#lastActiveMs = Date.now();
    const lastEventId = req.headers['last-event-id'];
    let stream = this.#streams.get(STANDALONE_STREAM)!;
    let afterSeq: number | undefined;
    if (typeof lastEventId === 'string' && lastEventId !== '') {
      const parsed = parseEventId(lastEventId);
      const found = parsed === undefined ? undefined : this.#streams.get(parsed.streamNo);
      if (found === undefined) throw new ProxyError(400, RpcCode.invalidRequest, 'Bad Request: unknown Last-Event-ID');
      stream = found;
      afterSeq = parsed!.seq;
    }
    if (stream.isLive) throw new ProxyError(409, RpcCode.invalidRequest, 'Conflict: this stream is already open on another connection');
    stream.attach(res, { [SESSION_HEADER]: this.id }, { afterSeq, prime: this.#primes(), retryMs: RETRY_MS });
    if (stream.no !== STANDALONE_STREAM && stream.isFinished) this.#streams.delete(stream.no);
  }

  deliver(msg: JsonRpcMessage, relatedId: JsonRpcId | undefined): void {
    if (isResponse(msg) && msg.id === this.#initializeId && isObject(msg.result) && isLegacyVersion(msg.result.protocolVersion)) {
      this.protocolVersion = msg.result.protocolVersion;
    }
    const exchange = relatedId === undefined ? undefined : this.#exchanges.get(relatedId);
    if (exchange === undefined) {
      // Not tied to a request still being answered: the standalone (GET) stream, never a second copy.
      if (!isResponse(msg)) this.#send(this.#streams.get(STANDALONE_STREAM)!, msg);
      return;
    }
    const isFinal = isResponse(msg) && msg.id === relatedId;
    if (!isFinal) {
      this.#send(this.#upgrade(exchange), msg);
      return;
    }
    exchange.awaiting.delete(relatedId!);
    this.#exchanges.delete(relatedId!);
    if (exchange.stream === undefined) {
      exchange.replies.push(msg as JsonRpcResponse);
      if (exchange.awaiting.size === 0) this.#answerJson(exchange);
      return;
    }
    this.#send(exchange.stream, msg);
    if (exchange.awaiting.size === 0) this.#finishStream(exchange.stream);
  }

  end(reason: string): void {
    this.close(reason);
  }

  close(reason: string): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    for (const exchange of new Set(this.#exchanges.values())) {
      if (exchange.stream === undefined && !exchange.res.headersSent) {
        exchange.res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({
          jsonrpc: '2.0', id: null, error: { code: RpcCode.sessionNotFound, message: `Session ended: ${reason}` },
        }));
      }
    }
    this.#exchanges.clear();
    for (const stream of this.#streams.values()) stream.close();
    this.#streams.clear();
    closeSession(this.#ctx, this, reason);
  }

  get lastActiveMs(): number {
    return this.#lastActiveMs;
  }

  isIdle(nowMs: number, idleMs: number): boolean {
    if (this.#exchanges.size > 0 || nowMs - this.#lastActiveMs < idleMs) return false;
    for (const stream of this.#streams.values()) if (stream.isLive) return false;
    return true;
  }

  /** Long calls with nothing to say yet switch to SSE so a heartbeat can keep the connection alive. */
  keepAlive(nowMs: number, afterMs: number): void {
    for (const exchange of new Set(this.#exchanges.values())) {
      if (exchange.stream === undefined && nowMs - exchange.startedMs >= afterMs) this.#upgrade(exchange);
    }
  }

  #primes(): boolean {
    return this.protocolVersion >= PRIMING_VERSION;
  }

  #upgrade(exchange: Exchange): EventStream {
    if (exchange.stream !== undefined) return exchange.stream;
    const stream = new EventStream(this.#nextStreamNo++, this.#limits, this.#ctx.heartbeat);
    this.#streams.set(stream.no, stream);
    this.#forgetOldStreams();
    exchange.stream = stream;
    stream.attach(exchange.res, { [SESSION_HEADER]: this.id }, { prime: this.#primes(), retryMs: RETRY_MS });
    // Replies that arrived before the switch (batch members) go first, in order.
    for (const reply of exchange.replies) this.#send(stream, reply);
    exchange.replies = [];
    return stream;
  }

  /**
   * Streams whose connection dropped are kept for a Last-Event-ID resume; past a bound per session the
   * oldest without a live connection is forgotten, so a client that never resumes cannot grow memory.
   */
  #forgetOldStreams(): void {
    if (this.#streams.size <= MAX_KEPT_STREAMS) return;
    for (const [no, stream] of this.#streams) {
      if (no === STANDALONE_STREAM || stream.isLive) continue;
      stream.close();
      this.#streams.delete(no);
      if (this.#streams.size <= MAX_KEPT_STREAMS) return;
    }
  }

  #send(stream: EventStream, msg: JsonRpcMessage): void {
    const data = serialize(msg);
    this.#ctx.metrics.bytesOut += data.length;
    stream.send(data);
  }

  #finishStream(stream: EventStream): void {
    const wasLive = stream.isLive;
    stream.finish();
    // Delivered whole on a live connection: nothing left to replay. Otherwise kept for Last-Event-ID.
    if (wasLive) this.#streams.delete(stream.no);
  }

  #answerJson(exchange: Exchange): void {
    const { res } = exchange;
    if (res.writableEnded || res.destroyed) return;
    const body = JSON.stringify(exchange.isBatch ? exchange.replies : exchange.replies[0]);
    this.#ctx.metrics.bytesOut += body.length;
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    headers[SESSION_HEADER] = this.id;
    res.writeHead(200, headers).end(body);
  }

  /** The client cancelled a request: no reply will come (spec), so its answer ends here. */
  #cancelled(requestId: JsonRpcId | undefined): void {
    const exchange = requestId === undefined ? undefined : this.#exchanges.get(requestId);
    if (exchange === undefined) return;
    this.#exchanges.delete(requestId!);
    exchange.awaiting.delete(requestId!);
    if (exchange.awaiting.size > 0) return;
    if (exchange.stream !== undefined) this.#finishStream(exchange.stream);
    else if (exchange.replies.length > 0) this.#answerJson(exchange);
    // No reply will come: an event stream that ends without it, the one answer without a message that
    // the spec allows a POST of requests (JSON or SSE) and that SDK clients read without an error
    // (a 204 has no Content-Type, which they report as "Unexpected content type: null").
    else if (!exchange.res.headersSent) exchange.res.writeHead(200, { ...SSE_HEADERS, [SESSION_HEADER]: this.id }).end();
  }

  /** The POST connection closed: a JSON answer has nowhere to go; an SSE stream keeps buffering for a resume. */
  #abandon(exchange: Exchange): void {
    if (exchange.stream !== undefined || exchange.awaiting.size === 0) return;
    // Not a cancellation (spec): the call runs on; its reply is dropped when it arrives.
    for (const requestId of exchange.awaiting) this.#exchanges.delete(requestId);
    exchange.awaiting.clear();
  }
}
