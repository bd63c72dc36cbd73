/**
 * OTLP/HTTP protobuf: an ExportTraceServiceRequest (opentelemetry-proto, collector/trace/v1) encoded
 * by hand, only the fields mcpproxy sets. Pure. Field numbers are the .proto's:
 *   ExportTraceServiceRequest { ResourceSpans resource_spans = 1 }
 *   ResourceSpans { Resource resource = 1; ScopeSpans scope_spans = 2 }
 *   Resource { KeyValue attributes = 1 }        ScopeSpans { InstrumentationScope scope = 1; Span spans = 2 }
 *   InstrumentationScope { string name = 1; string version = 2 }
 *   Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5;
 *          SpanKind kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
 *          KeyValue attributes = 9; Status status = 15; fixed32 flags = 16 }
 *   Status { string message = 2; StatusCode code = 3 (ERROR = 2) }
 *   KeyValue { string key = 1; AnyValue value = 2 }
 *   AnyValue { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4 }
 */
import type { Attributes, Span } from './span.ts';

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;
const STATUS_ERROR = 2;
/** W3C trace flags: sampled (only sampled spans are exported). Bits 8-9 (is the parent remote) are left unset: unknown. */
const FLAG_SAMPLED = 1;

/** A growable buffer of protobuf fields. */
class ProtoWriter {
  #buf: Buffer;
  #pos = 0;

  constructor(capacity = 256) {
    this.#buf = Buffer.allocUnsafe(capacity);
  }

  #room(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + bytes));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  varint(value: number): void {
    this.#room(10);
    // Values here are non-negative and below 2^53: split without BigInt.
    while (value >= 0x80) {
      this.#buf[this.#pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.#buf[this.#pos++] = value;
  }

  #tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(field: number, data: Uint8Array): void {
    this.#tag(field, WIRE_BYTES);
    this.varint(data.length);
    this.#room(data.length);
    this.#buf.set(data, this.#pos);
    this.#pos += data.length;
  }

  string(field: number, text: string): void {
    this.stringOf(field, text, Buffer.byteLength(text));
  }

  /** A string whose UTF-8 length the caller has measured already. */
  stringOf(field: number, text: string, bytes: number): void {
    this.#tag(field, WIRE_BYTES);
    this.varint(bytes);
    this.#room(bytes);
    this.#pos += this.#buf.write(text, this.#pos, 'utf8');
  }

  /** The tag and length of an embedded message of `bytes` bytes, written next by the caller. */
  header(field: number, bytes: number): void {
    this.#tag(field, WIRE_BYTES);
    this.varint(bytes);
  }

  hex(field: number, hex: string): void {
    this.#tag(field, WIRE_BYTES);
    this.varint(hex.length / 2);
    this.#room(hex.length / 2);
    this.#pos += this.#buf.write(hex, this.#pos, 'hex');
  }

  uint(field: number, value: number): void {
    this.#tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** int64 as a varint: a negative value takes ten bytes (two's complement), as protobuf writes it. */
  int64(field: number, value: number): void {
    if (value >= 0) return this.uint(field, value);
    this.#tag(field, WIRE_VARINT);
    let big = BigInt.asUintN(64, BigInt(value));
    this.#room(10);
    while (big >= 0x80n) {
      this.#buf[this.#pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.#buf[this.#pos++] = Number(big);
  }

  double(field: number, value: number): void {
    this.#tag(field, WIRE_FIXED64);
    this.#room(8);
    this.#buf.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
  }

  fixed64(field: number, value: bigint): void {
    this.#tag(field, WIRE_FIXED64);
    this.#room(8);
    this.#buf.writeBigUInt64LE(value, this.#pos);
    this.#pos += 8;
  }

  fixed32(field: number, value: number): void {
    this.#tag(field, WIRE_FIXED32);
    this.#room(4);
    this.#buf.writeUInt32LE(value, this.#pos);
    this.#pos += 4;
  }

  raw(data: Uint8Array): void {
    this.#room(data.length);
    this.#buf.set(data, this.#pos);
    this.#pos += data.length;
  }

  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter(1024);
    write(inner);
    this.bytes(field, inner.finish());
  }

  /** Empties the writer, keeping its buffer (a scratch writer reused per span). */
  reset(): void {
    this.#pos = 0;
  }

  get length(): number {
    return this.#pos;
  }

  finish(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }
}

/** Milliseconds since the epoch (fractional) as nanoseconds, exact to the microsecond. */
function unixNanos(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1_000_000));
}

/** Bytes of `value` as a varint. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/**
 * Attributes as KeyValue messages, their lengths computed rather than encoded twice: the two nested
 * messages per attribute are most of a span, and a scratch writer for each made encoding 4× slower.
 */
function writeAttributes(w: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    const keyBytes = Buffer.byteLength(key);
    const valueBytes = typeof value === 'string' ? Buffer.byteLength(value) : 0;
    const anyBytes = typeof value === 'string' ? 1 + varintSize(valueBytes) + valueBytes
      : typeof value === 'boolean' ? 2
      : !Number.isSafeInteger(value) ? 9
      : 1 + (value < 0 ? 10 : varintSize(value));
    w.header(field, 1 + varintSize(keyBytes) + keyBytes + 1 + varintSize(anyBytes) + anyBytes);
    w.stringOf(1, key, keyBytes);
    w.header(2, anyBytes);
    if (typeof value === 'string') w.stringOf(1, value, valueBytes);
    else if (typeof value === 'boolean') w.uint(2, value ? 1 : 0);
    else if (Number.isSafeInteger(value)) w.int64(3, value);
    else w.double(4, value);
  }
}

function writeSpan(w: ProtoWriter, span: Span): void {
  w.hex(1, span.context.traceId);
  w.hex(2, span.context.spanId);
  if (span.context.traceState !== undefined) w.string(3, span.context.traceState);
  if (span.parentSpanId !== undefined) w.hex(4, span.parentSpanId);
  w.string(5, span.name);
  w.uint(6, span.kind);
  w.fixed64(7, unixNanos(span.startMs));
  w.fixed64(8, unixNanos(span.endMs));
  writeAttributes(w, 9, span.attributes);
  if (span.errorType !== undefined) w.message(15, (status) => status.uint(3, STATUS_ERROR));
  w.fixed32(16, FLAG_SAMPLED);
}

/** What one process says about itself in every export. */
export interface ExportSource {
  resource: Attributes;
  scope: { name: string; version: string };
}

/** One span's bytes are built here, then copied into its batch: one scratch buffer for the process. */
const scratch = new ProtoWriter(1024);

/**
 * Spans encoded as they end, so a span's objects die young (a queue of Span objects kept them past
 * a few scavenges, and the old-space collections cost more than the encoding), framed as one
 * ExportTraceServiceRequest when sent: the enclosing messages' lengths are known by then.
 */
export class SpanBatch {
  #body = new ProtoWriter(64 * 1024);
  count = 0;

  add(span: Span): void {
    scratch.reset();
    writeSpan(scratch, span);
    this.#body.bytes(2, scratch.finish());
    this.count++;
  }

  /** The request body: every span added, under one resource and one scope. */
  finish(source: ExportSource): Buffer {
    const body = this.#body;
    const resource = new ProtoWriter();
    resource.message(1, (r) => writeAttributes(r, 1, source.resource));
    const scope = new ProtoWriter();
    scope.message(1, (sc) => {
      sc.string(1, source.scope.name);
      sc.string(2, source.scope.version);
    });
    const scopeSpansBytes = scope.length + body.length;
    const scopeSpansHeader = new ProtoWriter(16);
    scopeSpansHeader.header(2, scopeSpansBytes);
    const out = new ProtoWriter(16 + resource.length + scopeSpansHeader.length + scopeSpansBytes);
    out.header(1, resource.length + scopeSpansHeader.length + scopeSpansBytes);
    for (const part of [resource, scopeSpansHeader, scope, body]) out.raw(part.finish());
    return out.finish();
  }
}
