// Incremental text/event-stream parsing for the bench client.
import { BenchError, MAX_SSE_LINE_BYTES } from './client.ts';

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * Incremental text/event-stream parser on bytes: lines end at LF, CRLF or CR (a CR at the end of a
 * chunk whose LF starts the next one is one line end); only whole lines are decoded, so a multi-byte
 * character split across chunks survives. A line over maxLineBytes is an error.
 */
export class SseParser {
  #parts: Buffer[] = [];
  #partBytes = 0;
  #skipLf = false;
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  #onEvent: (e: SseEvent) => void;
  #maxLineBytes: number;

  constructor(onEvent: (e: SseEvent) => void, maxLineBytes = MAX_SSE_LINE_BYTES) {
    this.#onEvent = onEvent;
    this.#maxLineBytes = maxLineBytes;
  }

  feed(chunk: Buffer): void {
    let start = 0;
    if (this.#skipLf && chunk.length > 0) {
      this.#skipLf = false;
      if (chunk[0] === 0x0a) start = 1;
    }
    for (let i = start; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== 0x0a && b !== 0x0d) continue;
      const piece = chunk.subarray(start, i);
      const line = this.#partBytes === 0 ? piece : Buffer.concat([...this.#parts, piece]);
      this.#parts = [];
      this.#partBytes = 0;
      this.#line(line.toString('utf8'));
      if (b === 0x0d) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === 0x0a) i++;
        } else {
          this.#skipLf = true;
        }
      }
      start = i + 1;
    }
    if (start < chunk.length) {
      this.#parts.push(chunk.subarray(start));
      this.#partBytes += chunk.length - start;
      if (this.#partBytes > this.#maxLineBytes) {
        throw new BenchError('BENCH_SSE_LINE_TOO_LONG', `SSE line over ${this.#maxLineBytes} bytes`);
      }
    }
  }

  #line(line: string): void {
    if (line === '') {
      if (this.#data.length > 0) {
        this.#onEvent({ event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id });
      }
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return; // comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id') this.#id = value;
  }
}
