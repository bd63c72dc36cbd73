/**
 * The audit log: one JSON line per client request that reached a server. Never blocks a call: lines
 * go to a bounded queue that drains to the sink as fast as it takes them; while the sink stalls and
 * the queue is full, new lines are dropped and counted (`mcpproxy_audit_dropped_total`).
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';

export type AuditOutcome = 'result' | 'error' | 'denied' | 'timeout' | 'cancelled';

export interface AuditEntry {
  time: string;
  principal: string;
  auth: string;
  server: string;
  session: string;
  transport: string;
  era: string | undefined;
  method: string;
  name: string | undefined;
  id: string | number | null;
  outcome: AuditOutcome;
  ms: number;
  bytesIn: number;
  bytesOut: number;
  client: { name: string; version: string } | undefined;
  /** The request's trace and server span, when tracing is on: the line joins its trace. */
  trace_id?: string | undefined;
  span_id?: string | undefined;
}

const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export class AuditLog {
  #sink: Writable;
  #queue: string[] = [];
  #queuedBytes = 0;
  #isWaiting = false;
  #dropped = 0;
  #written = 0;

  /** `target`: a file (appended to) or '-' for stdout. `onError` hears a sink failure once. */
  static open(target: string, onError: (err: Error) => void): AuditLog {
    return new AuditLog(target === '-' ? process.stdout : createWriteStream(target, { flags: 'a', mode: 0o600 }), onError);
  }

  constructor(sink: Writable, onError: (err: Error) => void) {
    this.#sink = sink;
    this.#sink.once('error', onError);
    this.#sink.on('drain', () => this.#drain());
  }

  get dropped(): number {
    return this.#dropped;
  }

  get written(): number {
    return this.#written;
  }

  record(entry: AuditEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    if (this.#queuedBytes + line.length > MAX_QUEUED_BYTES || this.#sink.destroyed) {
      this.#dropped++;
      return;
    }
    this.#queue.push(line);
    this.#queuedBytes += line.length;
    if (!this.#isWaiting) this.#drain();
  }

  /** Writes queued lines until the sink asks us to wait; 'drain' brings us back. */
  #drain(): void {
    this.#isWaiting = false;
    while (this.#queue.length > 0) {
      const line = this.#queue.shift()!;
      this.#queuedBytes -= line.length;
      this.#written++;
      if (!this.#sink.write(line)) {
        this.#isWaiting = true;
        return;
      }
    }
  }

  /** Flushes what the sink took and closes a file sink (stdout stays open). */
  close(): Promise<void> {
    if (this.#sink === process.stdout) return Promise.resolve();
    return new Promise((resolve) => this.#sink.end(resolve));
  }
}
