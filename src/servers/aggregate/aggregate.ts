/**
 * Every enabled server as one MCP server. The aggregate is a backend like a server unit: transports of
 * every era reach it the same way. It answers the handshake and the lists itself (from its members'
 * catalogs, namespaced) and routes each call by name or URI to a session it opens on that member on
 * first use, with the member's own id and progress machinery behind it. A member that fails never fails
 * the aggregate: its last known lists stay, its calls get an error naming it.
 */
import { VERSION } from '../../config/version.ts';
import type { Logger } from '../../observe/log.ts';
import { ProxyError, RpcCode } from '../../protocol/errors.ts';
import {
  errorResponse, isObject, isRequest, isResponse, resultResponse,
  type JsonObject, type JsonRpcId, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse,
} from '../../protocol/message.ts';
import { isLegacyVersion, LATEST_LEGACY_VERSION } from '../../protocol/versions.ts';
import type { Backend, ClientLink, StatelessSource, StatelessTarget } from '../contract.ts';
import type { Registry } from '../registry.ts';
import { AGGREGATE_CAPABILITIES, buildView, changedLists, joinInstructions, type CatalogView } from './catalog-view.ts';
import type { ListKind } from './list-reading.ts';
import { MemberCatalog } from './member-catalog.ts';
import { newSession, type AggregateSession } from './aggregate-session.ts';
import { answerList, firstRuns, viewOf, type ListSources } from './session-lists.ts';
import { MemberSession } from './member-session.ts';
import { envFor, exposed, mapResultUris, routeMessage } from './route-message.ts';
import { routedCalls } from '../../trace/internal-spans.ts';

/** Members' list changes within this window reach clients as one notification per list. */
const COALESCE_MS = 250;
const LIST_METHODS: Record<string, ListKind> = {
  'tools/list': 'tools', 'prompts/list': 'prompts', 'resources/list': 'resources', 'resources/templates/list': 'resourceTemplates',
};
/** The notification that tells clients a list changed: templates are told as resources. */
const NOTIFIED_AS: Record<ListKind, 'tools' | 'prompts' | 'resources'> = { tools: 'tools', prompts: 'prompts', resources: 'resources', resourceTemplates: 'resources' };
const CHANGED_NOTIFICATION: Record<'tools' | 'prompts' | 'resources', string> = {
  tools: 'notifications/tools/list_changed', prompts: 'notifications/prompts/list_changed', resources: 'notifications/resources/list_changed',
};

export class Aggregate implements Backend, StatelessSource {
  #registry: Registry;
  #log: Logger;
  #stateDir: string | undefined;
  #catalogs = new Map<string, MemberCatalog>();
  #view: CatalogView = buildView([]);
  #sessions = new Map<string, AggregateSession>();
  #nextId = 1;
  #pendingChanges = new Set<'tools' | 'prompts' | 'resources'>();
  #coalesceTimer: NodeJS.Timeout | undefined;
  #listSources: ListSources = {
    catalogs: () => this.#catalogs.values(),
    view: () => this.#view,
    registry: () => this.#registry,
    member: (session, server) => this.#member(session, server),
    memberEnv: (session, unit) => envFor(unit.spec, session.env, this.#claimNames),
  };
  #claimNames: ReadonlySet<string>;

  /** `claimNames`: the variables --env-from-claim sets, which reach every member like they reach every server. */
  constructor(registry: Registry, stateDir: string | undefined, log: Logger, claimNames: ReadonlySet<string>) {
    this.#registry = registry;
    this.#claimNames = claimNames;
    this.#log = log;
    this.#stateDir = stateDir;
    this.#followMembers();
    registry.onReload(() => this.#followMembers());
  }

  get view(): CatalogView {
    return this.#view;
  }

  catalogOf(server: string): MemberCatalog | undefined {
    return this.#catalogs.get(server);
  }

  // ── Backend ─────────────────────────────────────────────────────────────────────────────────────

  async open(sessionId: string, link: ClientLink, env: Record<string, string>, scope?: string[], principalId?: string): Promise<void> {
    const unknown = scope?.filter((name) => this.#registry.get(name) === undefined) ?? [];
    if (unknown.length > 0) throw new ProxyError(400, RpcCode.invalidParams, `unknown server in ?servers=: ${unknown.join(', ').slice(0, 200)}`);
    this.#sessions.set(sessionId, newSession(link, env, principalId, scope, false));
  }

  receive(sessionId: string, msg: JsonRpcMessage): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    if (isRequest(msg)) this.#request(session, msg);
    else if (isResponse(msg)) this.#clientResponse(session, msg);
    else this.#clientNotification(session, msg);
  }

  close(sessionId: string): void {
    const session = this.#sessions.get(sessionId);
    if (session === undefined) return;
    this.#sessions.delete(sessionId);
    session.isClosed = true;
    for (const member of session.members.values()) member.close();
  }

  failPending(reason: string): void {
    for (const session of this.#sessions.values()) {
      for (const [clientId] of session.inFlight) reply(session, errorResponse(clientId, RpcCode.serverError, reason));
      session.inFlight.clear();
    }
  }

  notReadyReason(): string | undefined {
    const units = this.#registry.units.filter((unit) => !unit.spec.isDisabled);
    if (units.some((unit) => unit.notReadyReason() === undefined)) return undefined;
    return units.length === 0 ? 'no server is enabled' : 'no server is ready';
  }

  get childCount(): number {
    return 0;
  }

  get pendingCount(): number {
    let count = 0;
    for (const session of this.#sessions.values()) count += session.inFlight.size;
    return count;
  }

  async stop(): Promise<void> {
    clearTimeout(this.#coalesceTimer);
    for (const sessionId of [...this.#sessions.keys()]) this.close(sessionId);
    for (const catalog of this.#catalogs.values()) catalog.close();
  }

  // ── StatelessSource: a 2026-07-28 caller with its environment ───────────────────────────────────

  get(env: Record<string, string>, principalId?: string): StatelessTarget {
    return {
      attachStateless: (sessionId, link) => void this.#sessions.set(sessionId, newSession(link, env, principalId, undefined, true)),
      receive: (sessionId, msg) => this.receive(sessionId, msg),
      close: (sessionId) => this.close(sessionId),
      initializeResult: async (params) => this.#initializeResult(params),
    };
  }

  // ── client → members ────────────────────────────────────────────────────────────────────────────

  #request(session: AggregateSession, req: JsonRpcRequest): void {
    const params = isObject(req.params) ? req.params : {};
    if (req.method === 'initialize') {
      session.initParams = params;
      session.isInitialized = true;
      return reply(session, resultResponse(req.id, this.#initializeResult(params)));
    }
    if (req.method === 'ping') return reply(session, resultResponse(req.id, {}));
    const kind = LIST_METHODS[req.method];
    if (kind !== undefined) return answerList(this.#listSources, session, kind, params.cursor, (result) => reply(session, resultResponse(req.id, result)));
    if (req.method === 'logging/setLevel') {
      session.logLevel = typeof params.level === 'string' ? params.level : undefined;
      for (const member of session.members.values()) member.send({ jsonrpc: '2.0', id: `~level-${this.#nextId++}`, method: req.method, params });
      return reply(session, resultResponse(req.id, {}));
    }
    this.#route(session, req, params, true);
  }

  /** `mayWait`: a name nothing listed yet waits (bounded) for members that have never listed, then is routed once more. */
  #route(session: AggregateSession, req: JsonRpcRequest, params: JsonObject, mayWait: boolean): void {
    const routed = routeMessage(session.view ?? this.#view, this.#registry, req.method, params);
    const waiting = 'error' in routed && routed.isUnknown === true && mayWait ? firstRuns(this.#listSources, session, 'call') : undefined;
    if (waiting !== undefined) return void waiting.then(() => this.#route(session, req, params, false));
    if ('error' in routed) return reply(session, errorResponse(req.id, routed.code, routed.error));
    if (session.scope !== undefined && !session.scope.has(routed.server)) {
      return reply(session, errorResponse(req.id, RpcCode.invalidParams, `server ${routed.server} is not in this session's ?servers=`));
    }
    if (session.inFlight.has(req.id)) return reply(session, errorResponse(req.id, RpcCode.invalidRequest, 'Invalid Request: a request with this id is already in flight'));
    session.inFlight.set(req.id, routed.server);
    routedCalls.routed(session, req, routed.server);
    if (!this.#member(session, routed.server).send(req)) {
      session.inFlight.delete(req.id);
      reply(session, errorResponse(req.id, RpcCode.serverError, `server ${routed.server} unavailable: too many messages waiting for it to start`));
    }
  }

  #clientResponse(session: AggregateSession, res: JsonRpcResponse): void {
    const server = session.serverRequests.answer(res);
    if (server !== undefined) session.members.get(server)?.send(res);
  }

  #clientNotification(session: AggregateSession, msg: JsonRpcNotification): void {
    const params = isObject(msg.params) ? msg.params : {};
    if (msg.method === 'notifications/cancelled') {
      const server = session.inFlight.get(params.requestId as JsonRpcId);
      if (server === undefined) return;
      session.inFlight.delete(params.requestId as JsonRpcId);
      session.members.get(server)?.send(msg);
      return;
    }
    if (msg.method === 'notifications/roots/list_changed') for (const member of session.members.values()) member.send(msg);
  }

  #member(session: AggregateSession, server: string): MemberSession {
    const open = session.members.get(server);
    const unit = this.#registry.get(server)!;
    if (open?.isOpen === true && open.unit === unit) return open;
    open?.close(); // a reload replaced the member's unit
    const owner = {
      fromMember: (name: string, msg: JsonRpcMessage, relatedId: JsonRpcId | undefined) => this.#fromMember(session, name, msg, relatedId),
      memberEnded: (name: string, reason: string, unsent: JsonRpcMessage[]) => this.#memberEnded(session, name, reason, unsent),
    };
    const sessionId = `~aggregate-${this.#nextId++}`;
    const member = new MemberSession(unit, owner, {
      sessionId, env: this.#listSources.memberEnv(session, unit), principalId: session.principalId,
      isStateless: session.isStateless, initParams: session.initParams, logLevel: session.logLevel,
    });
    session.members.set(server, member);
    return member;
  }

  // ── members → client ────────────────────────────────────────────────────────────────────────────

  #fromMember(session: AggregateSession, server: string, msg: JsonRpcMessage, relatedId: JsonRpcId | undefined): void {
    if (isResponse(msg)) {
      if (msg.id === null || session.inFlight.get(msg.id) !== server) return; // our own (log level) or a call already answered
      session.inFlight.delete(msg.id);
      if (msg.error?.code === RpcCode.serverError && msg.error.message.startsWith('upstream ')) msg.error.message = `server ${server} ${msg.error.message.slice(9)}`;
      if (isObject(msg.result)) mapResultUris(this.#registry.get(server)?.spec.prefix ?? '', msg.result);
      return reply(session, msg);
    }
    if (isRequest(msg)) {
      session.serverRequests.outbound(server, msg);
      return session.link.deliver(msg, relatedId);
    }
    const params = isObject(msg.params) ? msg.params : undefined;
    if (msg.method.endsWith('/list_changed')) return; // the catalog re-reads and the aggregate tells everyone once
    if (msg.method === 'notifications/resources/updated' && typeof params?.uri === 'string') {
      params.uri = exposed(this.#registry.get(server)?.spec.prefix ?? '', params.uri);
    }
    if (msg.method === 'notifications/cancelled') {
      const clientId = session.serverRequests.withdraw(server, params?.requestId);
      if (clientId === undefined) return;
      params!.requestId = clientId;
      return session.link.deliver(msg, undefined);
    }
    session.link.deliver(msg, relatedId);
  }

  #memberEnded(session: AggregateSession, server: string, reason: string, unsent: JsonRpcMessage[]): void {
    const message = reason.startsWith('server ') ? reason : `server ${server} unavailable: ${reason}`;
    for (const msg of unsent) if (isRequest(msg)) session.inFlight.delete(msg.id);
    for (const [clientId, target] of session.inFlight) {
      if (target !== server) continue;
      session.inFlight.delete(clientId);
      reply(session, errorResponse(clientId, RpcCode.serverError, message));
    }
    for (const msg of unsent) if (isRequest(msg)) reply(session, errorResponse(msg.id, RpcCode.serverError, message));
    session.serverRequests.forget(server);
    if (session.members.get(server)?.isOpen === false) session.members.delete(server);
  }

  // ── catalog ─────────────────────────────────────────────────────────────────────────────────────

  #initializeResult(params: JsonObject): JsonObject {
    const result: JsonObject = {
      protocolVersion: isLegacyVersion(params.protocolVersion) ? params.protocolVersion : LATEST_LEGACY_VERSION,
      capabilities: structuredClone(AGGREGATE_CAPABILITIES),
      serverInfo: { name: 'mcpproxy', version: VERSION },
    };
    const instructions = joinInstructions([...this.#catalogs.values()].map((c) => ({ name: c.unit.spec.name, snapshot: c.snapshot })));
    if (instructions !== undefined) result.instructions = instructions;
    return result;
  }

  /** Keeps one catalog per enabled member, in configuration order; rebuilds the view on every change. */
  #followMembers(): void {
    const units = this.#registry.units.filter((unit) => !unit.spec.isDisabled);
    for (const [name, catalog] of this.#catalogs) {
      if (this.#registry.get(name) !== catalog.unit || catalog.unit.spec.isDisabled) {
        catalog.close();
        this.#catalogs.delete(name);
      }
    }
    const next = new Map<string, MemberCatalog>();
    for (const unit of units) next.set(unit.spec.name, this.#catalogs.get(unit.spec.name) ?? new MemberCatalog(unit, this.#stateDir, (announced) => this.#rebuild(announced)));
    this.#catalogs = next;
    this.#rebuild();
  }

  /**
   * `announced`: lists a member said changed, re-read now. Clients hear of them as they would from the
   * server on its own route, even when the re-read list is the same (a server may use it to say that
   * what its entries stand for changed); the diff adds what the aggregate itself changed (a member
   * came, went, was reloaded).
   */
  #rebuild(announced: readonly ListKind[] = []): void {
    const previous = this.#view;
    this.#view = viewOf(this.#catalogs.values());
    const known = new Set(previous.renamed.map((r) => `${r.server}/${r.from}`));
    for (const { server, from, to } of this.#view.renamed) if (!known.has(`${server}/${from}`)) this.#log.warn('name changed for the aggregate', { server, from, to });
    const shadowed = new Set(previous.shadowed.map((s) => `${s.server}/${s.name}`));
    for (const { server, name, winner } of this.#view.shadowed) if (!shadowed.has(`${server}/${name}`)) this.#log.warn('name shadowed in the aggregate', { server, name, winner });
    for (const kind of [...changedLists(previous, this.#view), ...announced]) this.#pendingChanges.add(NOTIFIED_AS[kind]);
    if (this.#pendingChanges.size > 0 && this.#coalesceTimer === undefined) {
      this.#coalesceTimer = setTimeout(() => this.#announce(), COALESCE_MS);
      this.#coalesceTimer.unref();
    }
  }

  #announce(): void {
    this.#coalesceTimer = undefined;
    const kinds = [...this.#pendingChanges];
    this.#pendingChanges.clear();
    this.#log.debug('aggregate lists changed', { lists: kinds.join(',') });
    for (const session of this.#sessions.values()) {
      if (!session.isInitialized) continue;
      for (const kind of kinds) session.link.deliver({ jsonrpc: '2.0', method: CHANGED_NOTIFICATION[kind] }, undefined);
    }
  }
}

function reply(session: AggregateSession, res: JsonRpcResponse): void {
  routedCalls.answered(session, res);
  session.link.deliver(res, res.id ?? undefined);
}
