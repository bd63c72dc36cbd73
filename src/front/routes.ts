/**
 * The route table: which endpoint a path reaches. The single-command form serves its one server at
 * /mcp, /sse and /messages; with a servers file each server has /servers/<name>/… and the aggregate of
 * them all answers at the root. Endpoints follow the registry across reloads, so every configured
 * server's routes exist from boot whatever its state.
 */
import { unionAllowLists } from '../config/env-policy.ts';
import { Aggregate } from '../servers/aggregate/aggregate.ts';
import type { Registry, ReloadDiff } from '../servers/registry.ts';
import type { ServerUnit } from '../servers/server-unit.ts';
import type { EnvPolicy } from '../http/request-env.ts';
import { Endpoint, type EndpointShared } from './endpoint.ts';

/** `openapi`, `docs`, `tool`: the tools as plain HTTP (downstream/http-tools). */
export type Transport = 'mcp' | 'sse' | 'messages' | 'openapi' | 'docs' | 'tool';

const TRANSPORTS: Record<string, Transport> = {
  mcp: 'mcp', sse: 'sse', messages: 'messages', message: 'messages', 'openapi.json': 'openapi', docs: 'docs',
};
const SERVER_PATH = /^\/servers\/([a-z][a-z0-9-]{0,23})(\/.+)$/;
const TOOL_PATH = /^\/tools\/([^/]+)$/;

export class Routes {
  readonly root: Endpoint;
  readonly aggregate: Aggregate | undefined;
  #shared: EndpointShared;
  #servers = new Map<string, Endpoint>();
  #registry: Registry;
  #changeListeners: Array<() => void> = [];

  /** `isAggregate`: a servers file was given (the root is the aggregate, each server has its own routes). */
  constructor(shared: EndpointShared, registry: Registry, isAggregate: boolean) {
    this.#shared = shared;
    this.#registry = registry;
    if (!isAggregate) {
      this.root = this.#endpointFor(registry.units[0]!, '');
      return;
    }
    const aggregate = new Aggregate(registry, shared.config.stateDir, shared.log, shared.identity.claimNames);
    this.aggregate = aggregate;
    // What the root takes from requests follows the members, so it is worked out at start and on each reload, not per request.
    let policy = aggregateEnvPolicy(registry);
    let names = forwardedByAny(registry);
    registry.onReload(() => {
      policy = aggregateEnvPolicy(registry);
      names = forwardedByAny(registry);
    });
    this.root = new Endpoint(shared, {
      backend: aggregate, stateless: aggregate, basePath: '', server: 'aggregate', maxSessions: 0,
      envPolicy: () => policy,
      // Each member session takes its own listed headers of these (servers/aggregate/route-message.ts).
      forwarding: { names: () => names },
    });
    for (const unit of registry.units) this.#servers.set(unit.spec.name, this.#endpointFor(unit, `/servers/${unit.spec.name}`));
  }

  /** The endpoint and transport for a path (`tool`: the tool a `tools/<name>` path names), or undefined (404). */
  match(pathname: string): { endpoint: Endpoint; transport: Transport; server: string | undefined; tool?: string } | undefined {
    const m = SERVER_PATH.exec(pathname);
    const server = m === null ? undefined : m[1]!;
    const endpoint = server === undefined ? this.root : this.#servers.get(server);
    const rest = m === null ? pathname : m[2]!;
    if (endpoint === undefined) return undefined;
    const transport = TRANSPORTS[rest.slice(1)];
    if (transport !== undefined) return { endpoint, transport, server };
    const tool = decodedSegment(TOOL_PATH.exec(rest)?.[1]);
    return tool === undefined ? undefined : { endpoint, transport: 'tool', server, tool };
  }

  /** The unit behind a server's routes (undefined for the aggregate). */
  unitOf(server: string): ServerUnit | undefined {
    return this.#registry.get(server);
  }

  get endpoints(): Array<{ server: string; endpoint: Endpoint }> {
    return [{ server: this.aggregate === undefined ? this.#registry.units[0]!.spec.name : 'aggregate', endpoint: this.root },
      ...[...this.#servers].map(([server, endpoint]) => ({ server, endpoint }))];
  }

  /** Calls `listener` on every state change of any server, those a reload adds included. */
  onServerChange(listener: () => void): void {
    this.#changeListeners.push(listener);
    for (const unit of this.#registry.units) unit.onStateChange(listener);
  }

  /** A reload: endpoints of removed or changed servers close (their sessions end), new ones open. */
  async apply(diff: ReloadDiff, reason: string): Promise<void> {
    const closing: Array<Promise<void>> = [];
    for (const unit of diff.removed) {
      const endpoint = this.#servers.get(unit.spec.name);
      if (endpoint?.ctx.backend !== unit) continue;
      this.#servers.delete(unit.spec.name);
      closing.push(endpoint.close(reason));
    }
    for (const unit of diff.added) {
      this.#servers.set(unit.spec.name, this.#endpointFor(unit, `/servers/${unit.spec.name}`));
      for (const listener of this.#changeListeners) unit.onStateChange(listener);
    }
    await Promise.all(closing);
  }

  async close(reason: string): Promise<void> {
    await Promise.all(this.endpoints.map(({ endpoint }) => endpoint.close(reason)));
    await this.aggregate?.stop();
  }

  #endpointFor(unit: ServerUnit, basePath: string): Endpoint {
    const { spec } = unit;
    const forwardHeaders = spec.remote?.forwardHeaders ?? [];
    const policy = { allow: spec.allowEnv, isShared: spec.shared };
    return new Endpoint(this.#shared, {
      backend: unit, stateless: unit, basePath, server: spec.name, maxSessions: spec.maxSessions,
      envPolicy: () => policy,
      forwarding: forwardHeaders.length === 0 ? undefined : { names: () => forwardHeaders },
    });
  }
}

/** The aggregate's environment policy: what any member allows; shared only when every member is. */
function aggregateEnvPolicy(registry: Registry): EnvPolicy {
  return { allow: unionAllowLists(registry.units.map((unit) => unit.spec.allowEnv)), isShared: registry.units.every((unit) => unit.spec.shared) };
}

/** Every header some remote member forwards, once each. */
function forwardedByAny(registry: Registry): string[] {
  return [...new Set(registry.units.flatMap((unit) => unit.spec.remote?.forwardHeaders ?? []))];
}

/** A percent-encoded path segment, or undefined when it is absent or not valid UTF-8. */
function decodedSegment(segment: string | undefined): string | undefined {
  try {
    return segment === undefined ? undefined : decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
