/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` and `tracestate` parsed and
 * formatted. Pure: a value that breaks a rule of the spec is refused (undefined), never half-used.
 */

/** Which span a message or request belongs to: ids as lowercase hex, the sampled flag, the vendor state. */
export interface SpanContext {
  traceId: string;
  spanId: string;
  isSampled: boolean;
  traceState: string | undefined;
}

// version-traceid-parentid-flags; a later version may append fields after another '-' (spec §3.2.4).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^]*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
/** tracestate: at most 32 list members (spec §3.3.1.1), a key and a value each. */
const MAX_STATE_MEMBERS = 32;
const MAX_STATE_CHARS = 512;
const STATE_KEY = /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;
const STATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** The context a `traceparent` names (with `tracestate` if valid), or undefined when it breaks the spec. */
export function parseTraceparent(traceparent: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof traceparent !== 'string' || traceparent.length > 512) return undefined;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is invalid; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, isSampled: (parseInt(flags, 16) & 1) === 1, traceState: parseTracestate(tracestate) };
}

/** `tracestate` as it may be passed on: valid members kept (32 at most), undefined when none is left. */
export function parseTracestate(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_STATE_CHARS * 2) return undefined;
  const kept: string[] = [];
  const keys = new Set<string>();
  for (const raw of value.split(',')) {
    const member = raw.trim();
    if (member === '') continue; // empty members are allowed and ignored
    const eq = member.indexOf('=');
    if (eq <= 0) return undefined;
    const key = member.slice(0, eq);
    // A malformed member or a repeated key makes the whole header invalid (spec §3.3.1.3).
    if (!STATE_KEY.test(key) || !STATE_VALUE.test(member.slice(eq + 1)) || keys.has(key)) return undefined;
    keys.add(key);
    if (kept.length < MAX_STATE_MEMBERS) kept.push(member);
  }
  const joined = kept.join(',');
  return joined === '' || joined.length > MAX_STATE_CHARS ? undefined : joined;
}

/** The `traceparent` header value of `ctx` (version 00). */
export function formatTraceparent(ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.isSampled ? '01' : '00'}`;
}
