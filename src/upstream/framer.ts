/**
 * Newline framing of a byte stream into whole lines (stdio MCP transport).
 * Works on Buffers so a multi-byte UTF-8 character split across chunks is decoded whole.
 * Pure: no I/O; the owner feeds chunks and receives lines.
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export interface FramerEvents {
  /** One complete line, without its `\n` (and without a trailing `\r`). */
  line(text: string): void;
  /** A line longer than the cap was discarded; `bytes` is how much of it was seen. */
  oversized(bytes: number): void;
}

export class LineFramer {
  #parts: Buffer[] = [];
  #partBytes = 0;
  /** True while the current line has overflowed: its bytes are dropped up to the next newline. */
  #isSkipping = false;
  #skippedBytes = 0;
  readonly #maxLineBytes: number;
  readonly #events: FramerEvents;

  constructor(maxLineBytes: number, events: FramerEvents) {
    this.#maxLineBytes = maxLineBytes;
    this.#events = events;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline === -1 ? chunk.length : newline;
      this.#take(chunk, start, end);
      if (newline === -1) return;
      this.#endLine();
      start = newline + 1;
    }
  }

  /** Stream ended: a last line without a newline still counts. */
  end(): void {
    if (this.#partBytes > 0 || this.#isSkipping) this.#endLine();
  }

  #take(chunk: Buffer, start: number, end: number): void {
    const length = end - start;
    if (length === 0) return;
    if (this.#isSkipping) {
      this.#skippedBytes += length;
      return;
    }
    if (this.#partBytes + length > this.#maxLineBytes) {
      this.#isSkipping = true;
      this.#skippedBytes = this.#partBytes + length;
      this.#parts = [];
      this.#partBytes = 0;
      return;
    }
    // subarray shares memory with the chunk; the chunk is not reused by node streams.
    this.#parts.push(chunk.subarray(start, end));
    this.#partBytes += length;
  }

  #endLine(): void {
    if (this.#isSkipping) {
      const bytes = this.#skippedBytes;
      this.#isSkipping = false;
      this.#skippedBytes = 0;
      this.#events.oversized(bytes);
      return;
    }
    const parts = this.#parts;
    const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#partBytes);
    this.#parts = [];
    this.#partBytes = 0;
    const length = line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.length - 1 : line.length;
    if (length === 0) return;
    this.#events.line(line.toString('utf8', 0, length));
  }
}
