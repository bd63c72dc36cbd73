/**
 * One place clients connect to: a server unit's routes or the aggregate's. It owns what the transports
 * need per endpoint (the context with its backend, its session table and environment policy, the
 * Streamable HTTP transport and the stateless handler); the route table maps paths to endpoints.
 */
import type { Config } from '../config/config.ts';
import type { ProxyContext } from '../downstream/context.ts';
import { SessionTable } from '../downstream/sessions.ts';
import { StatelessHandler } from '../downstream/stateless/stateless.ts';
import { StreamableTransport } from '../downstream/streamable.ts';
import { RequestEnv, type EnvPolicy, type HeaderForwarding } from '../http/request-env.ts';
import type { Heartbeat } from '../http/sse-writer.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Backend, StatelessSource } from '../servers/contract.ts';
import { GatedBackend } from '../downstream/gated-backend.ts';
import type { Identity } from '../identity/identity.ts';
import type { AuditLog } from '../observe/audit.ts';
import { HttpTools } from '../downstream/http-tools/facade.ts';
import type { Protection } from '../downstream/http-tools/security.ts';

export interface EndpointShared {
  config: Config;
  log: Logger;
  metrics: Metrics;
  heartbeat: Heartbeat;
  identity: Identity;
  audit: AuditLog | undefined;
}

export interface EndpointTarget {
  backend: Backend;
  stateless: StatelessSource;
  /** Per-session variables, read per request. */
  envPolicy(): EnvPolicy;
  maxSessions: number;
  basePath: string;
  /** The server's name in audit lines ('aggregate' for the root of a servers file). */
  server: string;
  /** Headers clients may pass on: a remote member's `forwardHeaders`, or those of the aggregate's members. */
  forwarding?: HeaderForwarding;
}

export class Endpoint {
  readonly ctx: ProxyContext;
  readonly streamable: StreamableTransport;
  readonly stateless: StatelessHandler;
  readonly httpTools: HttpTools;
  readonly #source: StatelessSource;

  constructor(shared: EndpointShared, target: EndpointTarget) {
    const { identity, audit } = shared;
    this.ctx = {
      ...shared,
      backend: target.backend,
      gated: new GatedBackend(target.backend, { identity, audit, server: target.server, resourcePath: `${target.basePath}/mcp` }),
      sessions: new SessionTable(target.maxSessions, shared.config.instanceId),
      requestEnv: new RequestEnv(() => target.envPolicy(), shared.log, forwardable(target.forwarding, shared.config)),
      basePath: target.basePath,
    };
    this.#source = target.stateless;
    this.stateless = new StatelessHandler(this.ctx, target.stateless);
    this.streamable = new StreamableTransport(this.ctx, this.stateless);
    this.httpTools = new HttpTools(this.ctx, target.stateless, target.server, protectionOf(shared.config));
  }

  /** Shutdown and removal: calls still running are answered, sessions ended, timers stopped. */
  async close(reason: string): Promise<void> {
    this.ctx.backend.failPending(reason);
    this.#source.failPending(reason);
    this.ctx.sessions.closeAll(reason);
    this.streamable.stop();
    await this.stateless.stop();
  }
}

/** How the proxy is protected, as the OpenAPI documents declare it: OAuth tokens, access keys, or nothing. */
function protectionOf(config: Config): Protection {
  const { oauth, namedKeys } = config.identity;
  if (oauth !== undefined) return { kind: 'oauth', issuers: oauth.issuers, metadataUrl: `${oauth.publicUrl}/.well-known/oauth-protected-resource` };
  return config.authKey !== undefined || namedKeys !== undefined ? { kind: 'key' } : { kind: 'none' };
}

/**
 * Never the proxy's own credential: `authorization` is dropped from the list while the proxy checks one
 * of its own there (an access key, named keys or an OAuth token).
 */
function forwardable(forwarding: HeaderForwarding | undefined, config: Config): HeaderForwarding | undefined {
  if (forwarding === undefined || !config.requiresCredentials) return forwarding;
  // Filtered once per list: the routes hand out the same array until a reload changes it.
  let from: readonly string[] | undefined;
  let kept: readonly string[] = [];
  return {
    ...forwarding,
    names: () => {
      const names = forwarding.names();
      if (names !== from) [from, kept] = [names, names.filter((name) => name !== 'authorization')];
      return kept;
    },
  };
}
