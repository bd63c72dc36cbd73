/**
 * Every HTTP response the front sends, bounded against a client that does not read: JSON answers, SSE
 * streams, `/tools/<name>`, documents alike. A response whose unsent bytes pass `maxUnsentBytes`, or
 * whose unsent bytes make no progress for `writeTimeoutMs`, is destroyed (with its socket) and reported,
 * so a reader that stalls costs at most one bounded backlog for a bounded time, never the proxy's memory.
 * Installed once as the server's ServerResponse class, so no write site can forget it.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';

export type CutReason = 'unsent-bytes' | 'write-timeout';

export interface ResponseBounds {
  maxUnsentBytes: number;
  /** How long unsent bytes may sit without any of them reaching the socket. */
  writeTimeoutMs: number;
  /** Called once for a response it destroys. */
  onCut(reason: CutReason, res: ServerResponse): void;
}

/** The ServerResponse class for `createServer({ ServerResponse })` under `bounds`. */
export function boundedResponseClass(bounds: ResponseBounds): typeof ServerResponse {
  class BoundedResponse extends ServerResponse {
    /** Body bytes handed to write()/end(); minus writableLength, what has reached the socket. */
    #written = 0;
    #timer: NodeJS.Timeout | undefined;
    #flushedAtArm = 0;

    constructor(req: IncomingMessage) {
      super(req);
      this.once('close', () => this.#disarm());
      this.once('finish', () => this.#disarm());
    }

    override write(chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean {
      const ok = super.write(chunk as never, encodingOrCallback as never, callback as never);
      this.#wrote(chunk);
      return ok;
    }

    override end(chunk?: unknown, encodingOrCallback?: unknown, callback?: unknown): this {
      super.end(chunk as never, encodingOrCallback as never, callback as never);
      this.#wrote(chunk);
      return this;
    }

    #wrote(chunk: unknown): void {
      this.#written += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.byteLength : 0;
      if (this.destroyed) return;
      const unsent = this.writableLength;
      if (unsent > bounds.maxUnsentBytes) this.#cut('unsent-bytes');
      else if (unsent > 0 && this.#timer === undefined) this.#arm();
    }

    #arm(): void {
      this.#flushedAtArm = this.#written - this.writableLength;
      this.#timer = setTimeout(() => this.#check(), bounds.writeTimeoutMs);
      this.#timer.unref();
    }

    /** A timeout's end: fine if all went out or some did (wait again), cut if nothing moved. */
    #check(): void {
      this.#timer = undefined;
      if (this.destroyed || this.writableFinished || this.writableLength === 0) return;
      if (this.#written - this.writableLength > this.#flushedAtArm) this.#arm();
      else this.#cut('write-timeout');
    }

    #disarm(): void {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }

    #cut(reason: CutReason): void {
      this.#disarm();
      this.destroy();
      bounds.onCut(reason, this);
    }
  }
  // Node's type is generic over the request class; the server only ever builds it for an IncomingMessage.
  return BoundedResponse as unknown as typeof ServerResponse;
}
