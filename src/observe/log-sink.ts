/**
 * Log lines toward a stream (stderr) through a bounded queue: a reader that does not keep up costs
 * dropped lines, counted and said once it catches up, never memory without bound; a write that fails
 * (EPIPE, EINVAL on a closed or broken pipe) stops the log, never the process.
 */
import type { Writable } from 'node:stream';
import type { LogFormat, LogSink } from './log.ts';

/** Bytes of log lines held while the stream has not taken the previous ones. */
const LOG_QUEUE_BYTES = 1024 * 1024;

export class QueuedSink implements LogSink {
  #stream: Writable;
  #format: LogFormat;
  #maxBytes: number;
  #queue: string[] = [];
  #queuedBytes = 0;
  #isWaiting = false;
  #isBroken = false;
  #dropped = 0;

  constructor(stream: Writable, format: LogFormat, maxBytes = LOG_QUEUE_BYTES) {
    this.#stream = stream;
    this.#format = format;
    this.#maxBytes = maxBytes;
    // Without a listener a failed write to stderr is an uncaught exception: the proxy would die of its log.
    stream.on('error', () => { this.#isBroken = true; });
    stream.on('drain', () => this.#flush());
  }

  write(line: string): void {
    if (this.#isBroken || this.#queuedBytes + line.length > this.#maxBytes) {
      this.#dropped++;
      return;
    }
    this.#queue.push(line);
    this.#queuedBytes += line.length;
    if (!this.#isWaiting) this.#flush();
  }

  /** One write per flush: a flood of short lines reaches the stream as one string, not a chunk each. */
  #flush(): void {
    this.#isWaiting = false;
    if (this.#isBroken || this.#queue.length === 0) return;
    let text = this.#queue.join('');
    this.#queue = [];
    this.#queuedBytes = 0;
    if (this.#dropped > 0) {
      text = this.#droppedLine() + text;
      this.#dropped = 0;
    }
    try {
      this.#isWaiting = !this.#stream.write(text);
    } catch {
      this.#isBroken = true; // a destroyed stream throws synchronously on some paths
    }
  }

  #droppedLine(): string {
    const time = new Date().toISOString();
    const msg = 'log lines dropped: stderr did not keep up';
    return this.#format === 'json'
      ? `${JSON.stringify({ time, level: 'warn', msg, dropped: this.#dropped })}\n`
      : `${time} warn  ${msg} dropped=${this.#dropped}\n`;
  }
}
