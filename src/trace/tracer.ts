/**
 * The process's tracer: off (every hook a single branch, no allocation) until main configures an
 * exporter. Spans are opened where a message already passes; the context travels with the message
 * (`params._meta.traceparent`, rewritten at each hop). Within the synchronous flow that forwards a
 * message its span is also "current", so log lines, a remote's HTTP headers and a lazy start find it;
 * being synchronous, it never leaks into a child or connection that flow happens to start. The one
 * context that must cross awaits, an HTTP request's own `traceparent` header, waits in an
 * AsyncLocalStorage read only by the front's server span.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingHttpHeaders } from 'node:http';
import { isObject, type JsonObject, type JsonRpcMessage } from '../protocol/message.ts';
import { newSpanId, newTraceId } from './ids.ts';
import type { Sampler } from './sampler.ts';
import { Span, type Attributes, type SpanKindValue } from './span.ts';
import { formatTraceparent, parseTraceparent, type SpanContext } from './trace-context.ts';

export interface TracerSetup {
  sampler: Sampler;
  /** Hears every sampled span when it ends (the exporter's queue). */
  onEnd: (span: Span) => void;
  /** --otel-enduser: the principal's id as `enduser.id` on server spans. */
  recordsEnduser: boolean;
}

export class Tracer {
  #setup: TracerSetup | undefined;
  #current: SpanContext | undefined;
  #callers = new AsyncLocalStorage<SpanContext>();

  get isOn(): boolean {
    return this.#setup !== undefined;
  }

  get recordsEnduser(): boolean {
    return this.#setup?.recordsEnduser === true;
  }

  configure(setup: TracerSetup | undefined): void {
    this.#setup = setup;
  }

  /** A span under `parent` (a new trace when undefined); it records only if sampled. Tracing must be on. */
  start(name: string, kind: SpanKindValue, parent: SpanContext | undefined, attributes: Attributes = {}): Span {
    const setup = this.#setup!;
    const traceId = parent?.traceId ?? newTraceId();
    const isSampled = setup.sampler(parent, traceId);
    const context: SpanContext = { traceId, spanId: newSpanId(), isSampled, traceState: parent?.traceState };
    return new Span(context, parent?.spanId, name, kind, attributes, isSampled ? setup.onEnd : undefined);
  }

  /** The span of the synchronous flow running now (a message being forwarded), if any. */
  active(): SpanContext | undefined {
    return this.#current;
  }

  /** Runs `fn` with `context` current for its synchronous part. */
  within<T>(context: SpanContext | undefined, fn: () => T): T {
    if (context === undefined) return fn();
    const outer = this.#current;
    this.#current = context;
    try {
      return fn();
    } finally {
      this.#current = outer;
    }
  }

  /** Runs `fn` (an HTTP request's handling) with the caller's context its W3C headers name, across awaits. */
  withCaller<T>(headers: IncomingHttpHeaders, fn: () => T): T {
    const context = this.#setup === undefined || headers.traceparent === undefined ? undefined : parseTraceparent(headers.traceparent, headers.tracestate);
    return context === undefined ? fn() : this.#callers.run(context, fn);
  }

  /** The caller's context from the HTTP request being handled: for a message that names none in `_meta`. */
  caller(): SpanContext | undefined {
    return this.#setup === undefined ? undefined : this.#callers.getStore();
  }

  /** The active context as W3C headers, for an HTTP request sent within it; undefined when none. */
  headers(): Record<string, string> | undefined {
    const context = this.active();
    if (context === undefined) return undefined;
    const headers: Record<string, string> = { traceparent: formatTraceparent(context) };
    if (context.traceState !== undefined) headers.tracestate = context.traceState;
    return headers;
  }

  /** `params._meta`'s traceparent (and tracestate) on a message, else the current span. */
  parentOf(msg: JsonRpcMessage): SpanContext | undefined {
    const meta = metaOf(msg);
    if (meta === undefined) return this.active();
    // What an earlier hop of this proxy wrote is known without parsing it again.
    const written = injected.get(meta);
    if (written !== undefined && written.traceparent === meta.traceparent) return written.context;
    return parseTraceparent(meta.traceparent, meta.tracestate) ?? this.active();
  }

  /** A span under the message's context whose own context the message carries on (its `_meta` rewritten). */
  passing(msg: JsonRpcMessage, name: string, kind: SpanKindValue, attributes: Attributes = {}, parent = this.parentOf(msg)): Span {
    const span = this.start(name, kind, parent, attributes);
    inject(msg, span.context);
    return span;
  }
}

/** The contexts this process wrote into messages' `_meta`, by the `_meta` object: a WeakMap, gone with the message. */
const injected = new WeakMap<object, { traceparent: string; context: SpanContext }>();

function metaOf(msg: JsonRpcMessage): JsonObject | undefined {
  const params = (msg as { params?: unknown }).params;
  return isObject(params) && isObject(params._meta) ? params._meta : undefined;
}

/** Writes `context` into the message's `params._meta` (created if absent), replacing what the sender put there. */
export function inject(msg: JsonRpcMessage, context: SpanContext): void {
  const holder = msg as { params?: unknown };
  if (holder.params === undefined) holder.params = {};
  if (!isObject(holder.params)) return; // positional params: no place for _meta
  const meta = isObject(holder.params._meta) ? holder.params._meta : (holder.params._meta = {});
  const traceparent = formatTraceparent(context);
  meta.traceparent = traceparent;
  injected.set(meta, { traceparent, context });
  if (context.traceState !== undefined) meta.tracestate = context.traceState;
  else delete meta.tracestate;
}

/** The one tracer of the process. */
export const tracing = new Tracer();
