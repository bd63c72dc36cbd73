/** Where browsers may talk to the proxy from: the Origin check against DNS rebinding, Host on loopback, CORS. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { ProxyError, RpcCode } from '../protocol/errors.ts';

export interface AccessPolicy {
  allowOrigins: string[];
  corsOrigins: string[];
  /** Bound to a loopback address: only loopback Host names are served (DNS rebinding). */
  isLoopbackOnly: boolean;
  /** A key or token is required: a rebound page has none, so same-origin by Host is safe for any name. */
  requiresCredentials: boolean;
}

const LOOPBACK_HOST = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?$/i;

/** Origin (when a browser sends one) must be allowed; on loopback, Host must be a loopback name. */
export function checkOrigin(policy: AccessPolicy, req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin !== undefined && !isAllowedOrigin(policy, origin, req.headers.host)) {
    throw new ProxyError(403, RpcCode.serverError, 'origin not allowed');
  }
  if (policy.isLoopbackOnly && !LOOPBACK_HOST.test(req.headers.host ?? '')) {
    throw new ProxyError(403, RpcCode.serverError, 'host not allowed');
  }
}

/**
 * Listed origins, plus two that are not DNS rebinding: the proxy's own origin, and, on a loopback-bound
 * proxy, any loopback origin (a local web client such as MCP Inspector's UI on another port).
 * Same-origin is the Origin's host equal to the Host the request was sent to; a rebound page has that
 * too, under the attacker's DNS name, so it counts only where rebinding cannot reach anything: on
 * loopback (Host is itself checked to be a loopback name), for an IP-literal Host (no DNS involved), or
 * when credentials are required (the page has none).
 */
function isAllowedOrigin(policy: AccessPolicy, origin: string, host: string | undefined): boolean {
  if (policy.allowOrigins.includes(origin) || policy.corsOrigins.includes('*') || policy.corsOrigins.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (host !== undefined && url.host === host.toLowerCase()) {
    return policy.isLoopbackOnly || policy.requiresCredentials || isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0;
  }
  return policy.isLoopbackOnly && LOOPBACK_HOST.test(url.host);
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
