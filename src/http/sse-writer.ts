/**
 * Server-Sent Events to one HTTP response: events with ids and multi-line data, comments, `retry`.
 * A client that does not drain is cut off once its unsent bytes pass a bound: it is never buffered
 * without limit and never slows the child or the other clients.
 */
import type { ServerResponse } from 'node:http';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  // No `connection` of our own: Node's keep-alive default, or the front's `close` while it drains.
  // nginx and similar proxies buffer responses unless told not to; SSE must flow event by event.
  'x-accel-buffering': 'no',
} as const;

/** Above this size an event is written as three corked pieces instead of one concatenated string copy. */
const CONCAT_LIMIT_BYTES = 64 * 1024;

export class SseWriter {
  #res: ServerResponse;
  #maxBufferBytes: number;
  #onClose: Array<() => void> = [];
  #isClosed = false;
  /** True once the client was cut off for not reading. */
  isCutOff = false;

  /** Sends the SSE response head at once (with `headers` added) so the client sees the stream open. */
  constructor(res: ServerResponse, maxBufferBytes: number, headers: Record<string, string> = {}) {
    this.#res = res;
    this.#maxBufferBytes = maxBufferBytes;
    if (!res.headersSent) {
      res.writeHead(200, { ...SSE_HEADERS, ...headers });
      res.flushHeaders();
    }
    res.once('close', () => this.#closed());
    // A client that left before the stream opened will not emit 'close' again.
    if (res.destroyed || res.socket === null || res.socket.destroyed) queueMicrotask(() => this.#closed());
  }

  get isOpen(): boolean {
    return !this.#isClosed && !this.#res.destroyed && !this.#res.writableEnded;
  }

  /** Calls `listener` once when the stream ends for any reason (client left, cut off, ended). */
  onClose(listener: () => void): void {
    if (this.#isClosed) listener();
    else this.#onClose.push(listener);
  }

  /** One event. `data` may hold newlines (each line gets its own `data:` field). False once the stream is gone. */
  send(data: string, event = 'message', id?: string): boolean {
    if (!this.isOpen) return false;
    const head = `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: `;
    const body = data.includes('\n') ? data.replaceAll('\r\n', '\n').replaceAll('\n', '\ndata: ') : data;
    if (body.length < CONCAT_LIMIT_BYTES) {
      return this.#write(`${head}${body}\n\n`);
    }
    // A multi-MiB event: avoid copying it into a second string; cork makes the pieces one writev.
    this.#res.cork();
    this.#write(head);
    this.#write(body);
    const ok = this.#write('\n\n');
    process.nextTick(() => this.#res.uncork());
    return ok;
  }

  /** A comment line: keeps proxies and clients from timing the stream out; clients ignore it. */
  comment(text: string): boolean {
    return this.isOpen && this.#write(`: ${text}\n\n`);
  }

  /** The `retry` field (ms): how long a client waits before reconnecting. */
  retry(ms: number, id?: string): boolean {
    return this.isOpen && this.#write(`${id === undefined ? '' : `id: ${id}\n`}retry: ${ms}\n\n`);
  }

  /** An event with an id and empty data: the 2025-11-25 priming event that lets a client resume. */
  prime(id: string): boolean {
    return this.isOpen && this.#write(`id: ${id}\ndata: \n\n`);
  }

  end(): void {
    if (this.isOpen) this.#res.end();
  }

  #write(text: string): boolean {
    this.#res.write(text);
    if (this.#res.destroyed) {
      // The response's own bound (http/bounded-response.ts) cut it off during this write.
      this.isCutOff = true;
      return false;
    }
    if (this.#res.writableLength > this.#maxBufferBytes) {
      // The client is not reading: cut it off rather than hold its backlog in memory.
      this.isCutOff = true;
      this.#res.destroy();
      return false;
    }
    return true;
  }

  #closed(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    const listeners = this.#onClose;
    this.#onClose = [];
    for (const listener of listeners) listener();
  }
}

/** One timer for every open stream: writes a comment to each at the interval. */
export class Heartbeat {
  #writers = new Set<SseWriter>();
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number) {
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => {
      for (const writer of this.#writers) writer.comment('ping');
    }, intervalMs);
    this.#timer.unref();
  }

  add(writer: SseWriter): void {
    if (this.#timer === undefined) return;
    this.#writers.add(writer);
    writer.onClose(() => this.#writers.delete(writer));
  }

  get size(): number {
    return this.#writers.size;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#writers.clear();
  }
}
