/**
 * The remote half of a servers-file entry: `url`, `type`, `headers`, `tls` and `forwardHeaders`. Pure:
 * the entry and an expander in, a RemoteSpec out; a bad value is an Error naming the key (the caller
 * adds the file and server).
 */
import type { RemoteSpec } from './server-spec.ts';

/**
 * Headers a client may never pass on: hop-by-hop ones (RFC 9110 7.6.1), the ones each hop sets for
 * itself, and MCP's own (the proxy speaks the protocol to the remote; a client's would corrupt it).
 * `authorization` is refused at request time while the proxy checks an access key of its own.
 */
const NEVER_FORWARDED = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'host', 'content-length', 'content-type', 'accept', 'accept-encoding',
  'mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'last-event-id', 'x-mcp-env', 'cookie',
]);
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

type Entry = Record<string, unknown>;

export function remoteOf(entry: Entry, isShared: boolean, expand: (value: string, key: string) => string): RemoteSpec {
  if (entry.command !== undefined) throw new Error('give either "command" (stdio) or "url" (remote), not both');
  if (entry.replicas !== undefined) throw new Error('"replicas" is for stdio servers; a remote server balances its own load');
  const url = expand(stringOf(entry.url, 'url'), 'url');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`"url" is not a URL: ${JSON.stringify(url.slice(0, 80))}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('"url" must be http: or https:');
  if (parsed.username !== '' || parsed.password !== '') throw new Error('"url" must not carry credentials; use "headers"');
  const type = entry.type;
  if (type !== undefined && type !== 'http' && type !== 'streamable-http' && type !== 'sse') {
    throw new Error(`"type" of a remote server must be http, streamable-http or sse, got ${JSON.stringify(type)?.slice(0, 40)}`);
  }
  const forwardHeaders = forwardHeadersOf(entry.forwardHeaders);
  if (forwardHeaders.length > 0 && isShared) throw new Error('"forwardHeaders" needs "mode": "independent" (one upstream session per client)');
  return {
    url,
    type: type === undefined ? undefined : type === 'sse' ? 'sse' : 'http',
    headers: headersOf(entry.headers, expand),
    caFile: caFileOf(entry.tls, expand),
    forwardHeaders,
  };
}

function stringOf(value: unknown, key: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`"${key}" must be a non-empty string`);
  return value;
}

function headersOf(value: unknown, expand: (value: string, key: string) => string): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('"headers" must be an object of strings');
  const out: Record<string, string> = {};
  for (const [name, item] of Object.entries(value)) {
    if (!HEADER_NAME_RE.test(name.toLowerCase())) throw new Error(`"headers": ${JSON.stringify(name.slice(0, 40))} is not a header name`);
    if (typeof item !== 'string') throw new Error(`"headers.${name}" must be a string`);
    const expanded = expand(item, `headers.${name}`);
    if (/[\r\n\0]/.test(expanded)) throw new Error(`"headers.${name}" must be one line`);
    out[name.toLowerCase()] = expanded;
  }
  return out;
}

function caFileOf(value: unknown, expand: (value: string, key: string) => string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('"tls" must be an object such as { "ca": "/path/ca.pem" }');
  const unknown = Object.keys(value).filter((key) => key !== 'ca');
  // Only a CA may be set: verification itself can never be turned off per member.
  if (unknown.length > 0) throw new Error(`"tls" takes only "ca", got ${unknown.join(', ')}`);
  const ca = (value as Entry).ca;
  return ca === undefined ? undefined : expand(stringOf(ca, 'tls.ca'), 'tls.ca');
}

function forwardHeadersOf(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new Error('"forwardHeaders" must be a list of header names');
  return value.map((raw) => {
    const name = raw.trim().toLowerCase();
    if (!HEADER_NAME_RE.test(name)) throw new Error(`"forwardHeaders": ${JSON.stringify(raw.slice(0, 40))} is not a header name`);
    if (NEVER_FORWARDED.has(name) || name.startsWith('mcp-param-') || name.startsWith('proxy-')) {
      throw new Error(`"forwardHeaders": ${name} is never passed on (hop-by-hop or the protocol's own)`);
    }
    return name;
  });
}
