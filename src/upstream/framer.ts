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
  /** Every byte of a line being discarded, in order, as it passes (to read its id): never held. */
  discarding?(bytes: Buffer): void;
}

/** First capacity of the partial-line buffer; it doubles as a line grows, up to the cap. */
const FIRST_CAPACITY = 4096;

export class LineFramer {
  /**
   * The partial line, copied into one growable Buffer: holding the chunks themselves would keep each
   * one's whole backing store alive (a line dribbled a byte per write cost ~263 bytes per byte).
   */
  #buf: Buffer | undefined;
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
      if (newline !== -1 && this.#partBytes === 0 && !this.#isSkipping && end - start <= this.#maxLineBytes) {
        this.#emit(chunk, start, end); // a whole line in one chunk: decoded in place, no copy
      } else {
        this.#take(chunk, start, end);
        if (newline === -1) return;
        this.#endLine();
      }
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
      this.#events.discarding?.(chunk.subarray(start, end));
      return;
    }
    if (this.#partBytes + length > this.#maxLineBytes) {
      this.#isSkipping = true;
      this.#skippedBytes = this.#partBytes + length;
      if (this.#buf !== undefined && this.#partBytes > 0) this.#events.discarding?.(this.#buf.subarray(0, this.#partBytes));
      this.#events.discarding?.(chunk.subarray(start, end));
      this.#buf = undefined;
      this.#partBytes = 0;
      return;
    }
    const needed = this.#partBytes + length;
    if (this.#buf === undefined || this.#buf.length < needed) {
      let capacity = Math.max(this.#buf?.length ?? 0, FIRST_CAPACITY);
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.allocUnsafe(Math.min(capacity, this.#maxLineBytes));
      this.#buf?.copy(grown, 0, 0, this.#partBytes);
      this.#buf = grown;
    }
    chunk.copy(this.#buf, this.#partBytes, start, end);
    this.#partBytes = needed;
  }

  #endLine(): void {
    if (this.#isSkipping) {
      const bytes = this.#skippedBytes;
      this.#isSkipping = false;
      this.#skippedBytes = 0;
      this.#events.oversized(bytes);
      return;
    }
    const buf = this.#buf;
    const length = this.#partBytes;
    this.#partBytes = 0;
    // A big line's buffer is let go; a small one is kept for the next partial line.
    if (buf !== undefined && buf.length > FIRST_CAPACITY) this.#buf = undefined;
    if (buf !== undefined) this.#emit(buf, 0, length);
  }

  #emit(bytes: Buffer, start: number, end: number): void {
    if (end > start && bytes[end - 1] === CARRIAGE_RETURN) end--;
    if (end === start) return;
    this.#events.line(bytes.toString('utf8', start, end));
  }
}
