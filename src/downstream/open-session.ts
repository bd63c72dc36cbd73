/** Opening a session, the same for every transport: bound, environment, backend, table, log line. */
import type { IncomingMessage } from 'node:http';
import type { ProxyContext } from './context.ts';
import type { ClientLink } from '../servers/contract.ts';
import type { DownstreamSession, TransportName } from './sessions.ts';
import type { Principal } from '../identity/principal.ts';

/**
 * Reserves a place, reads the session environment, attaches `link` to the backend, then registers the
 * session `create` builds. Throws ProxyError (400 bad env, 502 child did not start, 503 full).
 */
export async function openSession<S extends DownstreamSession & ClientLink>(
  ctx: ProxyContext,
  req: IncomingMessage,
  url: URL,
  transport: TransportName,
  principal: Principal,
  create: (id: string) => S,
): Promise<S> {
  ctx.sessions.reserve();
  let isAdded = false;
  try {
    const env = ctx.identity.callerEnv(ctx.requestEnv.extract(req, url), principal);
    const session = create(ctx.sessions.newId());
    await ctx.gated.open(session.id, session, env, scopeOf(url), principal, transport);
    ctx.sessions.add(session);
    isAdded = true;
    ctx.log.info('session open', { session: session.id, transport, principal: principal.id, env: Object.keys(env).join(',') || undefined });
    return session;
  } finally {
    if (!isAdded) ctx.sessions.unreserve();
  }
}

/** Closing bookkeeping shared by transports: table, backend, log line. */
export function closeSession(ctx: ProxyContext, session: DownstreamSession, reason: string): void {
  ctx.sessions.delete(session);
  ctx.gated.close(session.id);
  const level = reason.startsWith('cut off') ? 'warn' : 'info';
  ctx.log[level]('session closed', { session: session.id, transport: session.transport, reason });
}

/** `?servers=a,b` narrows an aggregate session to some servers; other backends ignore it. */
function scopeOf(url: URL): string[] | undefined {
  const raw = url.searchParams.get('servers');
  return raw === null ? undefined : raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
}
