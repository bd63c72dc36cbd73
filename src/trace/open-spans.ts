/**
 * Spans waiting for their answer, by key. Bounded in count and age: an answer that never comes (a
 * call the Hub timed out, a child that died) ends its span as `abandoned` rather than keeping it.
 */
import type { JsonRpcResponse } from '../protocol/message.ts';
import { errorOf } from './mcp-attributes.ts';
import type { Span } from './span.ts';

const MAX_OPEN = 10_000;
const MAX_AGE_MS = 15 * 60_000;

export class OpenSpans<K> {
  #open = new Map<K, Span>();

  /** Keeps `span` until `take(key)`; a span that is not sampled is not kept (it has nothing to record). */
  add(key: K, span: Span): void {
    if (!span.isRecording) return;
    this.#sweep(span.startMs);
    this.#open.get(key)?.end('abandoned');
    this.#open.set(key, span);
  }

  take(key: K): Span | undefined {
    const span = this.#open.get(key);
    if (span !== undefined) this.#open.delete(key);
    return span;
  }

  /** Ends every open span with `errorType` (the peer went away). */
  endAll(errorType: string): void {
    for (const span of this.#open.values()) span.end(errorType);
    this.#open.clear();
  }

  // Oldest first (insertion order): stops at the first one still young enough.
  #sweep(nowMs: number): void {
    for (const [key, span] of this.#open) {
      if (this.#open.size < MAX_OPEN && nowMs - span.startMs < MAX_AGE_MS) return;
      this.#open.delete(key);
      span.end('abandoned');
    }
  }
}

/** Ends `span` as `res` answers: `error.type` and `rpc.response.status_code` for a failure. */
export function endWithAnswer(span: Span, res: JsonRpcResponse): void {
  const failure = errorOf(res);
  span.set('rpc.response.status_code', failure?.statusCode);
  span.end(failure?.errorType);
}
