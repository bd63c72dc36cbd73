/**
 * Parses a text/event-stream body (WHATWG HTML "server-sent events"): bytes split on line ends, only
 * whole lines decoded (a multi-byte character split across chunks stays whole), fields collected
 * until a blank line ends the event. A line over the cap ends the stream as an error.
 */
export interface SseEvent {
  event: string;
  data: string;
  /** The `id:` field, when this event had one. */
  id: string | undefined;
}

export interface SseReaderEvents {
  event(ev: SseEvent): void;
  /** A `retry:` field: how long the server asks the client to wait before reconnecting. */
  retry?(ms: number): void;
}

export class SseReader {
  #maxLineBytes: number;
  #events: SseReaderEvents;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  #sawCr = false;

  constructor(maxLineBytes: number, events: SseReaderEvents) {
    this.#maxLineBytes = maxLineBytes;
    this.#events = events;
  }

  /** Feeds one chunk; throws when a line passes the cap (the caller drops the stream). */
  push(chunk: Buffer): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte !== 0x0a && byte !== 0x0d) continue;
      // CRLF is one line end: the LF right after a CR ends nothing.
      const isCrLfTail = byte === 0x0a && this.#sawCr && i === start && this.#pendingBytes === 0;
      this.#sawCr = byte === 0x0d;
      if (isCrLfTail) {
        start = i + 1;
        continue;
      }
      this.#keep(chunk.subarray(start, i));
      this.#line(Buffer.concat(this.#pending).toString('utf8'));
      this.#pending = [];
      this.#pendingBytes = 0;
      start = i + 1;
    }
    if (start < chunk.length) {
      this.#sawCr = false;
      this.#keep(chunk.subarray(start));
    }
  }

  #keep(part: Buffer): void {
    this.#pendingBytes += part.length;
    if (this.#pendingBytes > this.#maxLineBytes) throw new Error(`event stream line over ${this.#maxLineBytes} bytes`);
    if (part.length > 0) this.#pending.push(part);
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return; // comment: keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.#events.retry?.(Number(value));
  }

  #dispatch(): void {
    const hasData = this.#data.length > 0;
    const ev: SseEvent = { event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n'), id: this.#id };
    this.#event = '';
    this.#data = [];
    // An event with an id but no data (the 2025-11-25 priming event) still moves the resume point.
    if (hasData || ev.id !== undefined) this.#events.event(ev);
    this.#id = undefined;
  }
}
