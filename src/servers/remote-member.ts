/**
 * What a server unit and its backends need to run a remote member instead of a stdio child: the
 * target (URL, headers, private CA), the era and transport probe, and the options of one upstream
 * connection, with a client's forwarded headers on top of the member's own in independent mode, and
 * the member's tool declarations its stateless connections share.
 */
import { readFileSync } from 'node:fs';
import { headersFor } from '../config/forwarded-headers.ts';
import type { ServerSpec } from '../config/server-spec.ts';
import type { BackendDeps } from './backend-deps.ts';
import { VERSION } from '../config/version.ts';
import type { Logger } from '../observe/log.ts';
import { ParamHeaderRegistry } from '../protocol/param-headers.ts';
import type { UpstreamEra } from '../upstream/era-probe.ts';
import type { RemoteTarget } from '../upstream/remote/http-call.ts';
import { detectRemoteProtocol, type RemoteVerdict } from '../upstream/remote/remote-probe.ts';
import { lostReason, type RemoteOptions } from '../upstream/remote/remote-upstream.ts';

/** How long connecting (TCP, TLS, first byte of an answer that is not a call's) may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/** The member's target; the CA file is read here, so a missing one fails the member, naming the path. */
export function remoteTarget(spec: ServerSpec, extraHeaders: Record<string, string> = {}): RemoteTarget {
  const remote = spec.remote!;
  let ca: string | undefined;
  if (remote.caFile !== undefined) {
    try {
      ca = readFileSync(remote.caFile, 'utf8');
    } catch (err) {
      throw new Error(`tls.ca ${remote.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return {
    url: new URL(remote.url),
    headers: { ...extraHeaders, ...remote.headers },
    ca,
    timeoutMs: Math.min(CONNECT_TIMEOUT_MS, spec.requestTimeoutMs),
  };
}

/**
 * The remote's era and transport, probed until it answers (or `signal` ends the wait); `onUnreachable`
 * hears each failed try as the reason a caller should see.
 */
export function remoteEra(
  spec: ServerSpec, log: Logger, maxMessageBytes: number, signal: AbortSignal, onUnreachable: (reason: string) => void,
): Promise<RemoteVerdict> {
  for (const value of Object.values(spec.remote!.headers)) log.addSecret(value);
  return detectRemoteProtocol({
    target: remoteTarget(spec), type: spec.remote!.type, upstreamProtocol: spec.upstreamProtocol,
    clientVersion: VERSION, maxMessageBytes, log, signal, onUnreachable: (reason) => onUnreachable(lostReason(spec.name, reason)),
  });
}

/** A remote member's tool declarations; tools whose declarations are invalid are left out, and logged. */
export function paramHeaderRegistry(log: Logger): ParamHeaderRegistry {
  return new ParamHeaderRegistry((tool, why) => log.warn('tool left out: invalid x-mcp-header declaration', { tool, why }));
}

/**
 * One upstream connection's options. `forwarded`: the session's map (independent mode), of which only
 * the headers the member's `forwardHeaders` lists pass (its variables, those set from token claims
 * too, are for children); the member's configured headers win over them, so a client cannot replace
 * the operator's credentials. Tool declarations are the unit's, shared by all its connections.
 */
export function remoteOptions(
  deps: Pick<BackendDeps, 'spec' | 'paramHeaders'> & { config: Pick<BackendDeps['config'], 'maxMessageBytes'> },
  era: UpstreamEra, log: Logger, forwarded: Record<string, string> = {},
): RemoteOptions {
  const { spec } = deps;
  const verdict: RemoteVerdict = 'kind' in era ? (era as RemoteVerdict) : { ...era, kind: 'streamable' };
  return {
    name: spec.name, target: remoteTarget(spec, headersFor(spec.remote!.forwardHeaders, forwarded)), verdict, requestTimeoutMs: spec.requestTimeoutMs,
    maxMessageBytes: deps.config.maxMessageBytes, clientVersion: VERSION, log, paramHeaders: deps.paramHeaders ?? paramHeaderRegistry(log), // outside a unit: its own
  };
}
