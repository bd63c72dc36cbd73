/**
 * 2026-07-28 header values (Streamable HTTP, "Value Encoding"): a value that is not safe as a plain
 * ASCII field value travels as `=?base64?<base64 of its UTF-8>?=`, and is decoded before it is compared
 * with the body. `Mcp-Name` and `Mcp-Param-*` use it. Pure.
 */

/** Request headers as node:http gives them (lower-case names). */
export type Headers = Record<string, string | string[] | undefined>;

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/;

/**
 * The value as it is sent: as is when it is visible ASCII, space or tab (RFC 9110 5.5) without
 * surrounding whitespace; else wrapped, as is an empty value (it would read as absent) and a value
 * that looks like the wrapping itself (the spec's "to avoid ambiguity").
 */
export function encodeHeaderValue(value: string): string {
  const isPlain = /^[\t\x20-\x7e]+$/.test(value) && value.trim() === value && !(value.startsWith('=?base64?') && value.endsWith('?='));
  return isPlain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

/** Decodes the `=?base64?…?=` form a client uses for a header value that is not plain ASCII. */
export function decodeHeaderValue(value: string): string {
  const match = SENTINEL.exec(value);
  return match === null ? value : Buffer.from(match[1]!, 'base64').toString('utf8');
}
