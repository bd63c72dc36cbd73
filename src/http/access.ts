/** Who may talk to the proxy: the access key, the Origin check against DNS rebinding, Host on loopback, CORS. */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxyError, RpcCode } from '../protocol/errors.ts';

export interface AccessPolicy {
  authKey: string | undefined;
  allowOrigins: string[];
  corsOrigins: string[];
  /** Bound to a loopback address: only loopback Host names are served (DNS rebinding). */
  isLoopbackOnly: boolean;
}

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

/** Compares digests so neither the key's content nor its length leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The key a request presents: `Authorization: Bearer <key>` or the `auth_key` query parameter. */
function presentedKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match !== null) return match[1]!;
  }
  return url.searchParams.get('auth_key') ?? undefined;
}

export function checkAuth(policy: AccessPolicy, req: IncomingMessage, url: URL): void {
  if (policy.authKey === undefined) return;
  const key = presentedKey(req, url);
  if (key !== undefined && sameSecret(key, policy.authKey)) return;
  throw new ProxyError(401, RpcCode.serverError, key === undefined ? 'access key required' : 'access key rejected', {
    headers: { 'www-authenticate': 'Bearer realm="mcpproxy"' },
  });
}

/** Origin (when a browser sends one) must be allowed; on loopback, Host must be a loopback name. */
export function checkOrigin(policy: AccessPolicy, req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin !== undefined && !isAllowedOrigin(policy, origin)) {
    throw new ProxyError(403, RpcCode.serverError, 'origin not allowed');
  }
  if (policy.isLoopbackOnly && !LOOPBACK_HOST.test(req.headers.host ?? '')) {
    throw new ProxyError(403, RpcCode.serverError, 'host not allowed');
  }
}

function isAllowedOrigin(policy: AccessPolicy, origin: string): boolean {
  return policy.allowOrigins.includes(origin) || policy.corsOrigins.includes('*') || policy.corsOrigins.includes(origin);
}

const CORS_ALLOW_HEADERS = [
  'authorization', 'content-type', 'accept', 'last-event-id', 'mcp-session-id', 'mcp-protocol-version',
  'mcp-method', 'mcp-name', 'x-mcp-env',
];

/**
 * Adds CORS headers for an allowed browser origin. Returns true when the request was a preflight
 * and has been answered. `Mcp-Param-*` names are echoed from the preflight since they vary per tool.
 */
export function applyCors(policy: AccessPolicy, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || policy.corsOrigins.length === 0) return false;
  if (!policy.corsOrigins.includes('*') && !policy.corsOrigins.includes(origin)) return false;
  res.setHeader('access-control-allow-origin', policy.corsOrigins.includes('*') ? '*' : origin);
  res.setHeader('vary', 'Origin');
  res.setHeader('access-control-expose-headers', 'mcp-session-id, mcp-protocol-version, www-authenticate');
  if (req.method !== 'OPTIONS') return false;
  const requested = (req.headers['access-control-request-headers'] ?? '').split(',').map((h) => h.trim().toLowerCase());
  const params = requested.filter((h) => /^mcp-param-[a-z0-9-]+$/.test(h));
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers': [...CORS_ALLOW_HEADERS, ...params].join(', '),
    'access-control-max-age': '600',
  });
  res.end();
  return true;
}
