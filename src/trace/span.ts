/**
 * One span: ids, parent, name, kind, times and attributes. A span that is not sampled still has ids
 * (they travel on to the next hop) but records nothing and ends as a no-op.
 */
import { performance } from 'node:perf_hooks';
import type { SpanContext } from './trace-context.ts';

/** OTLP's SpanKind numbers. */
export const SpanKind = { internal: 1, server: 2, client: 3 } as const;
export type SpanKindValue = (typeof SpanKind)[keyof typeof SpanKind];

export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue | undefined>;

/** Wall-clock milliseconds with sub-millisecond precision (performance.now over the time origin). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export class Span {
  readonly context: SpanContext;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: SpanKindValue;
  readonly startMs: number;
  endMs = 0;
  readonly attributes: Attributes;
  /** Set when the operation failed: the conventions' `error.type`; the span's status is then ERROR. */
  errorType: string | undefined;
  #onEnd: ((span: Span) => void) | undefined;

  /** `onEnd` hears the span once when it ends; undefined for a span that is not sampled. */
  constructor(context: SpanContext, parentSpanId: string | undefined, name: string, kind: SpanKindValue, attributes: Attributes, onEnd: ((span: Span) => void) | undefined) {
    this.context = context;
    this.parentSpanId = parentSpanId;
    this.name = name;
    this.kind = kind;
    this.attributes = attributes;
    this.#onEnd = onEnd;
    this.startMs = onEnd === undefined ? 0 : nowMs();
  }

  get isRecording(): boolean {
    return this.#onEnd !== undefined;
  }

  set(key: string, value: AttributeValue | undefined): void {
    if (this.#onEnd !== undefined && value !== undefined) this.attributes[key] = value;
  }

  /** Ends the span (once; later calls are no-ops); `errorType` marks it failed. */
  end(errorType?: string): void {
    const onEnd = this.#onEnd;
    if (onEnd === undefined) return;
    this.#onEnd = undefined;
    this.endMs = nowMs();
    if (errorType !== undefined) {
      this.errorType = errorType;
      this.attributes['error.type'] = errorType;
    }
    onEnd(this);
  }
}
