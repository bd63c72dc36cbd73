/**
 * The operator's console: GET / and its style and script (public, so the page can load and ask for
 * the key), and the data it reads, behind the access key like everything else: /status/stream and
 * /console/connect (client configuration for a route). Nothing here changes the proxy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../../http/send-json.ts';
import { ProxyError, RpcCode } from '../../protocol/errors.ts';
import { LiveFeed } from './live-feed.ts';
import { snippets } from './snippets.ts';
import page from './assets/index.html' with { type: 'text' };
import style from './assets/console.css' with { type: 'text' };
import script from './assets/console.js' with { type: 'text' };
import icon from './assets/icon.svg' with { type: 'text' };

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;
type ConsoleRoute = [path: string, route: { methods: Record<string, Handler>; access?: 'public' }];

const STREAM_INTERVAL_MS = 1_000;
const SERVER_NAME = /^[a-z][a-z0-9-]{0,23}$/;

/** Same-origin only: no inline script or style, no other host, never framed. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export interface ConsoleSources {
  status: () => unknown;
  /** Names of the servers with their own routes (empty in the single-server form). */
  serverNames: () => string[];
  hasKey: boolean;
  /** Subscribes to every server's state changes, so viewers see a crash or a restart at once. */
  onServerChange: (listener: () => void) => void;
}

export function consoleRoutes({ status, serverNames, hasKey, onServerChange }: ConsoleSources): ConsoleRoute[] {
  const feed = new LiveFeed(status, STREAM_INTERVAL_MS);
  onServerChange(() => feed.nudge());
  const asset = (type: string, body: string): ConsoleRoute[1] => ({
    methods: { GET: (_req, res) => void res.writeHead(200, { ...PAGE_HEADERS, 'content-type': `${type}; charset=utf-8` }).end(body) },
    access: 'public',
  });
  // The page knows whether to ask for the key before its first request (no 401 to start with).
  const html = page.replace('<body>', `<body data-key="${hasKey ? 'required' : 'none'}">`);
  return [
    ['/', asset('text/html', html)],
    ['/console/icon.svg', asset('image/svg+xml', icon)],
    ['/console/console.css', asset('text/css', style)],
    ['/console/console.js', asset('text/javascript', script)],
    ['/status/stream', { methods: { GET: (_req, res) => feed.add(res) } }],
    ['/console/connect', { methods: { GET: (req, res, url) => connect(req, res, url, serverNames(), hasKey) } }],
  ];
}

/** `?server=<name>` (the aggregate when absent) and `?url=<the proxy's public URL as the browser sees it>`. */
function connect(req: IncomingMessage, res: ServerResponse, url: URL, servers: string[], hasKey: boolean): void {
  const server = url.searchParams.get('server') || undefined;
  if (server !== undefined && !(SERVER_NAME.test(server) && servers.includes(server))) {
    throw new ProxyError(400, RpcCode.invalidParams, 'unknown server');
  }
  const baseUrl = publicUrl(url.searchParams.get('url')) ?? `http://${req.headers.host ?? 'localhost'}`;
  sendJson(res, 200, { baseUrl, server, servers, snippets: snippets({ baseUrl, server, hasKey }) }, { 'cache-control': 'no-store' });
}

/** An http(s) URL without query or fragment, or undefined. */
function publicUrl(given: string | null): string | undefined {
  if (given === null || given.length > 2048) return undefined;
  try {
    const parsed = new URL(given);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch {
    return undefined;
  }
}
