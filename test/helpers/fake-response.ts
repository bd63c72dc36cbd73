/**
 * A stand-in for http.ServerResponse with just what SseWriter uses: it records what is written,
 * reports a settable `writableLength` (what a client that does not read would leave unsent), and
 * emits 'close' on destroy() and end() like the real one.
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';

export class FakeResponse extends EventEmitter {
  statusCode = 0;
  headers: Record<string, string> = {};
  headersSent = false;
  destroyed = false;
  writableEnded = false;
  socket: { destroyed: boolean } | null = { destroyed: false };
  /** Bytes the fake pretends are still queued; 0 models a client that reads everything. */
  writableLength = 0;
  /** When set, every write adds its length to writableLength (a client that reads nothing). */
  isStalled = false;
  written: string[] = [];
  corks = 0;

  writeHead(status: number, headers: Record<string, string>): this {
    this.statusCode = status;
    this.headers = { ...headers };
    this.headersSent = true;
    return this;
  }

  flushHeaders(): void {}

  write(chunk: string): boolean {
    if (this.destroyed || this.writableEnded) throw new Error('write after the response ended');
    this.written.push(chunk);
    if (this.isStalled) this.writableLength += chunk.length;
    return this.writableLength === 0;
  }

  cork(): void { this.corks++; }
  uncork(): void { this.corks--; }

  end(): this {
    if (this.writableEnded) return this;
    this.writableEnded = true;
    queueMicrotask(() => this.emit('close'));
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    queueMicrotask(() => this.emit('close'));
    return this;
  }

  get text(): string {
    return this.written.join('');
  }

  asResponse(): ServerResponse {
    return this as unknown as ServerResponse;
  }
}

export interface ParsedEvent {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
  comment?: string;
}

/** Splits a complete SSE text into its blocks, field by field (good enough for what the proxy writes). */
export function parseSse(text: string): ParsedEvent[] {
  const blocks = text.split('\n\n');
  assert(blocks.pop() === '', `SSE text must end with a blank line: ${JSON.stringify(text.slice(-40))}`);
  return blocks.map((block) => {
    const event: ParsedEvent = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(': ')) event.comment = line.slice(2);
      else if (line.startsWith('id: ')) event.id = line.slice(4);
      else if (line.startsWith('event: ')) event.event = line.slice(7);
      else if (line.startsWith('retry: ')) event.retry = Number(line.slice(7));
      else if (line.startsWith('data: ')) event.data = event.data === undefined ? line.slice(6) : `${event.data}\n${line.slice(6)}`;
      else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
    }
    return event;
  });
}

function assert(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}
