/** GETs and POSTs of small JSON documents to an authorization server: bounded in time and size. */

const TIMEOUT_MS = 10_000;
const MAX_BYTES = 1024 * 1024;

export interface JsonReply {
  status: number;
  body: unknown;
  headers: Headers;
}

/** Fetches `url` and parses its JSON body; throws an Error naming the URL (never a body) on any failure. */
export async function fetchJson(url: string, init: RequestInit = {}): Promise<JsonReply> {
  const res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json', ...init.headers as Record<string, string> } });
  const length = Number(res.headers.get('content-length') ?? '0');
  if (length > MAX_BYTES) {
    await res.body?.cancel();
    throw new Error(`${url}: document larger than ${MAX_BYTES} bytes`);
  }
  const text = await res.text();
  if (text.length > MAX_BYTES) throw new Error(`${url}: document larger than ${MAX_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, not JSON`);
  }
  return { status: res.status, body, headers: res.headers };
}

/**
 * The issuer's metadata: RFC 8414 (`/.well-known/oauth-authorization-server` inserted before the
 * issuer's path), then OpenID Connect Discovery (`/.well-known/openid-configuration` appended).
 */
export async function discoverIssuer(issuer: string): Promise<Record<string, unknown>> {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const candidates = [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      const { status, body } = await fetchJson(candidate);
      if (status === 200 && typeof body === 'object' && body !== null && (body as { issuer?: unknown }).issuer === issuer) {
        return body as Record<string, unknown>;
      }
      failures.push(`${candidate}: HTTP ${status}${status === 200 ? ' with another issuer' : ''}`);
    } catch (err) {
      failures.push((err as Error).message);
    }
  }
  throw new Error(`no metadata for issuer ${issuer} (${failures.join('; ')})`);
}
