/**
 * A stateful (2025-03-26 … 2025-11-25) Streamable HTTP session with a remote server, as the MCP
 * client: every message is a POST; `Mcp-Session-Id` from the initialize answer and the negotiated
 * `MCP-Protocol-Version` go on every later request; answers are JSON or SSE; the standalone GET stream
 * is opened after `notifications/initialized`; a dropped stream is resumed with `Last-Event-ID`; DELETE
 * ends the session. A 404 on a request carrying the session id means the session is gone (spec: start
 * over with initialize), which the owner does by reconnecting.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { errorResponse, isObject, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage } from '../../protocol/message.ts';
import { RpcCode } from '../../protocol/errors.ts';
import { RELATED_REQUEST_META } from '../../protocol/meta-keys.ts';
import { isEventStream, readEventStream, readJsonAnswer } from './answer.ts';
import { call, discard, RemoteError } from './http-call.ts';
import { DEFAULT_RETRY_MS, MAX_RESUMES, type RemoteTransport, type TransportEvents, type TransportOptions } from './transport.ts';

const ACCEPT_BOTH = 'application/json, text/event-stream';
const DELETE_TIMEOUT_MS = 2000;

export class StreamableClient implements RemoteTransport {
  #opts: TransportOptions;
  #events: TransportEvents;
  #state: 'open' | 'lost' | 'closed' = 'open';
  #abort = new AbortController();
  #sessionId: string | undefined;
  #version: string | undefined;
  #initializeId: JsonRpcId | undefined;
  #hasGetStream = false;

  constructor(opts: TransportOptions, events: TransportEvents) {
    this.#opts = opts;
    this.#events = events;
  }

  /** Reachability only: the session itself starts with the Hub's initialize. Any answer below 500 will do. */
  async connect(): Promise<void> {
    const res = await call(this.#opts.target, { method: 'GET', headers: { accept: 'text/event-stream' }, signal: this.#abort.signal });
    res.destroy();
    if (res.statusCode! >= 500) throw new RemoteError(`answered HTTP ${res.statusCode}`);
  }

  send(msg: JsonRpcMessage): boolean {
    if (this.#state !== 'open') return false;
    if (isRequest(msg) && msg.method === 'initialize') {
      // A (re-)initialize starts a new session: nothing of the old one may leak into it.
      this.#sessionId = undefined;
      this.#version = undefined;
      this.#initializeId = msg.id;
    }
    void this.#post(msg);
    return true;
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#abort.abort();
    if (this.#sessionId === undefined) return;
    // The server may answer 405 (it keeps sessions until they expire): either way we are done.
    const target = { ...this.#opts.target, timeoutMs: DELETE_TIMEOUT_MS };
    await call(target, { method: 'DELETE', headers: this.#sessionHeaders() }).then(discard, () => {});
  }

  #sessionHeaders(): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = {};
    if (this.#sessionId !== undefined) headers['mcp-session-id'] = this.#sessionId;
    if (this.#version !== undefined) headers['mcp-protocol-version'] = this.#version;
    return headers;
  }

  async #post(msg: JsonRpcMessage): Promise<void> {
    const requestId = isRequest(msg) ? msg.id : undefined;
    const hadSession = this.#sessionId !== undefined;
    let res: IncomingMessage;
    try {
      res = await call({ ...this.#opts.target, timeoutMs: this.#opts.requestTimeoutMs }, {
        method: 'POST', signal: this.#abort.signal, body: JSON.stringify(msg),
        headers: { accept: ACCEPT_BOTH, 'content-type': 'application/json', ...this.#sessionHeaders() },
      });
    } catch (err) {
      return this.#postFailed(requestId, (err as Error).message, false);
    }
    const status = res.statusCode!;
    if (requestId !== undefined && requestId === this.#initializeId) {
      const sessionId = res.headers['mcp-session-id'];
      if (typeof sessionId === 'string' && /^[\x21-\x7e]+$/.test(sessionId)) this.#sessionId = sessionId;
    }
    if (status === 404 && hadSession) {
      discard(res);
      return this.#lose('the remote session ended (HTTP 404)');
    }
    if (status >= 500) {
      discard(res);
      return this.#postFailed(requestId, `answered HTTP ${status}`, true);
    }
    if (status >= 400) return this.#refused(res, requestId);
    if (status === 202 || status === 204 || requestId === undefined && !isEventStream(res)) {
      discard(res);
      if (!isResponse(msg) && !isRequest(msg) && msg.method === 'notifications/initialized' && !this.#hasGetStream) {
        this.#hasGetStream = true;
        void this.#runGetStream(undefined, 0);
      }
      return;
    }
    if (isEventStream(res)) return this.#readRequestStream(res, requestId, undefined, 0);
    await readJsonAnswer(res, this.#opts.maxMessageBytes, (m) => this.#received(m, undefined)).catch((err: Error) => {
      if (requestId !== undefined) this.#answerError(requestId, `remote answer unreadable: ${err.message}`);
    });
  }

  /** A network failure or 5xx: the server is down for everyone, not just this call (a timeout is this call's). */
  #postFailed(requestId: JsonRpcId | undefined, reason: string, isServerError: boolean): void {
    if (this.#state !== 'open') return;
    const isTimeout = reason.startsWith('no answer within');
    if (isServerError || !isTimeout) return this.#lose(reason);
    if (requestId !== undefined) this.#answerError(requestId, `remote ${reason}`);
  }

  /** A 4xx: this message was refused; a request gets the server's JSON-RPC error if it sent one. */
  async #refused(res: IncomingMessage, requestId: JsonRpcId | undefined): Promise<void> {
    let message = `remote refused the request (HTTP ${res.statusCode})`;
    await readJsonAnswer(res, 64 * 1024, (m) => {
      if (isResponse(m) && m.error !== undefined) message = `remote refused the request (HTTP ${res.statusCode}): ${m.error.message.slice(0, 200)}`;
    }).catch(() => {});
    if (requestId !== undefined) this.#answerError(requestId, message);
  }

  /** A request's SSE answer; cut off before its response, it is resumed from its last id (spec: GET with Last-Event-ID). */
  async #readRequestStream(res: IncomingMessage, requestId: JsonRpcId | undefined, from: string | undefined, resumes: number): Promise<void> {
    let isAnswered = false;
    const end = await readEventStream(res, this.#opts.maxMessageBytes, from, {
      message: (m) => {
        if (isResponse(m) && m.id === requestId) isAnswered = true;
        this.#received(m, requestId);
      },
    });
    if (isAnswered || requestId === undefined || this.#state !== 'open') return;
    if (end.lastEventId === undefined || resumes >= MAX_RESUMES) {
      return this.#answerError(requestId, `the remote answer stream ended before the response${end.error === undefined ? '' : ` (${end.error})`}`);
    }
    await delay(end.retryMs ?? DEFAULT_RETRY_MS);
    const resumed = await this.#resume(end.lastEventId);
    if (resumed === undefined) return this.#answerError(requestId, 'the remote answer stream could not be resumed');
    return this.#readRequestStream(resumed, requestId, end.lastEventId, resumes + 1);
  }

  /** GET with Last-Event-ID: the server replays what that stream sent after it; undefined when it will not. */
  async #resume(lastEventId: string): Promise<IncomingMessage | undefined> {
    if (this.#state !== 'open') return undefined;
    try {
      const res = await call(this.#opts.target, {
        method: 'GET', signal: this.#abort.signal,
        headers: { accept: 'text/event-stream', 'last-event-id': lastEventId, ...this.#sessionHeaders() },
      });
      if (res.statusCode === 200 && isEventStream(res)) return res;
      discard(res);
    } catch {
      // treated as not resumable; a dead server shows itself on the next POST
    }
    return undefined;
  }

  /** The standalone GET stream for unsolicited messages; reopened from its last id when it drops. 405: the server has none. */
  async #runGetStream(from: string | undefined, attempt: number): Promise<void> {
    if (this.#state !== 'open') return;
    let res: IncomingMessage;
    try {
      res = await call(this.#opts.target, {
        method: 'GET', signal: this.#abort.signal,
        headers: { accept: 'text/event-stream', ...(from === undefined ? {} : { 'last-event-id': from }), ...this.#sessionHeaders() },
      });
    } catch (err) {
      return this.#lose(`the event stream could not be opened: ${(err as Error).message}`);
    }
    if (res.statusCode === 404) return void (discard(res), this.#lose('the remote session ended (HTTP 404)'));
    if (res.statusCode !== 200 || !isEventStream(res)) return void discard(res);
    const end = await readEventStream(res, this.#opts.maxMessageBytes, from, { message: (m) => this.#received(m, undefined) });
    if (this.#state !== 'open') return;
    // A clean end with no new events twice in a row is a server that will not keep one open: let it be.
    if (end.error === undefined && end.lastEventId === from && attempt >= MAX_RESUMES) return;
    await delay(end.retryMs ?? DEFAULT_RETRY_MS);
    return this.#runGetStream(end.lastEventId, end.lastEventId === from ? attempt + 1 : 0);
  }

  /** From the server. A request on a POST's stream belongs to that POST's call: the Hub is told which. */
  #received(msg: JsonRpcMessage, relatedId: JsonRpcId | undefined): void {
    if (this.#state !== 'open') return;
    if (isResponse(msg) && msg.id === this.#initializeId && isObject(msg.result) && typeof msg.result.protocolVersion === 'string') {
      this.#version = msg.result.protocolVersion;
    }
    if (isRequest(msg) && typeof relatedId === 'number') {
      const params = isObject(msg.params) ? msg.params : (msg.params = {});
      params._meta = { ...(isObject(params._meta) ? params._meta : {}), [RELATED_REQUEST_META]: relatedId };
    }
    this.#events.message(msg);
  }

  #answerError(requestId: JsonRpcId, message: string): void {
    this.#received(errorResponse(requestId, RpcCode.serverError, message), undefined);
  }

  #lose(reason: string): void {
    if (this.#state !== 'open') return;
    this.#state = 'lost';
    this.#abort.abort();
    this.#events.lost(reason);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
