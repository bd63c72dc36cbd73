/**
 * The aggregate's answers to the four list requests: from the members' catalogs (namespaced and
 * filtered), after waiting (bounded) for members that have never listed, with the lists of independent
 * members read through the session's own children when it brings variables (or headers) they take.
 */
import type { JsonObject } from '../../protocol/message.ts';
import { matcherOf } from '../name-filter.ts';
import type { Registry } from '../registry.ts';
import type { AggregateSession } from './aggregate-session.ts';
import { buildView, type CatalogView } from './catalog-view.ts';
import { emptyLists, readLists, type CatalogSnapshot, type ListKind } from './list-reading.ts';
import type { MemberCatalog } from './member-catalog.ts';
import type { MemberSession } from './member-session.ts';
import { decodeCursor } from './namespace.ts';
import { serverOfUri } from './route-message.ts';
import { settlesWithin } from './settles-within.ts';

/**
 * How long, at most, lists and calls wait for a member that has never listed (a lazy one's first start, a
 * slow one), counted per member from the first wait on it: a member that never answers holds the lists
 * for this once, and later ones are answered at once from what is known; the member's lists reach the
 * clients by `list_changed` when they come. A call names a tool the client saw, so it may wait longer.
 */
const FIRST_RUN_WAIT_MS = { list: 2000, call: 10_000 };

/** What the lists are read from: the aggregate's catalogs, shared view and member sessions. */
export interface ListSources {
  catalogs(): Iterable<MemberCatalog>;
  view(): CatalogView;
  registry(): Registry;
  member(session: AggregateSession, server: string): MemberSession;
  /** The session's variables that reach this member's child. */
  memberEnv(session: AggregateSession, unit: MemberCatalog['unit']): Record<string, string>;
}

/** The aggregate's view of `catalogs` in configuration order; `own` replaces some members' snapshots. */
export function viewOf(catalogs: Iterable<MemberCatalog>, own: ReadonlyMap<string, CatalogSnapshot> = new Map()): CatalogView {
  return buildView([...catalogs].map((catalog) => ({
    name: catalog.unit.spec.name, prefix: catalog.unit.spec.prefix, matcher: matcherOf(catalog.unit.spec.filter),
    snapshot: own.get(catalog.unit.spec.name) ?? catalog.snapshot,
  })));
}

/**
 * Settles once the session's members that have never listed have (or could not soon); undefined when
 * none is pending. Lists wait for it, and so does a call whose name nothing listed yet: a client that
 * kept its tool list across a proxy restart calls before the members are back.
 */
export function firstRuns(src: ListSources, session: AggregateSession, purpose: 'list' | 'call'): Promise<void> | undefined {
  const pending = [...src.catalogs()].filter((c) => c.snapshot === undefined && (session.scope?.has(c.unit.spec.name) ?? true));
  if (pending.length === 0) return undefined;
  return Promise.all(pending.map((catalog) => catalog.waitFirstRun(FIRST_RUN_WAIT_MS[purpose]))).then(() => {});
}

/** Answers at once when nothing needs waiting for (the common case), else when the waits are over. */
export function answerList(src: ListSources, session: AggregateSession, kind: ListKind, cursor: unknown, answer: (result: JsonObject) => void): void {
  const waiting = firstRuns(src, session, 'list');
  const personal = personalMembers(src, session);
  if (waiting === undefined && personal.length === 0) return answer(listOf(session, src, src.view(), kind, cursor));
  void (waiting ?? Promise.resolve())
    .then(() => personalView(src, session, personal))
    .then((view) => answer(listOf(session, src, view, kind, cursor)));
}

/**
 * Independent members for which this session brings variables or forwarded headers of its own: their
 * lists may depend on them (a user's token), so they come from the session's own child, not from the
 * shared catalog.
 */
function personalMembers(src: ListSources, session: AggregateSession): MemberCatalog[] {
  return [...src.catalogs()].filter(({ unit }) => !unit.spec.shared && (session.scope?.has(unit.spec.name) ?? true)
    && Object.keys(src.memberEnv(session, unit)).length > 0);
}

/** The session's own view: the shared catalogs, with its personal members' lists read through its own children. */
async function personalView(src: ListSources, session: AggregateSession, personal: MemberCatalog[]): Promise<CatalogView> {
  if (personal.length === 0) {
    session.view = undefined;
    return src.view();
  }
  await Promise.all(personal.map(({ unit, snapshot }) => readOwn(src, session, unit.spec.name, snapshot?.initialize)));
  const own = new Map<string, CatalogSnapshot>();
  for (const { unit } of personal) {
    // One not read yet (late) is empty for this answer, never the operator's catalog in its place.
    own.set(unit.spec.name, session.ownLists.get(unit.spec.name) ?? { initialize: {}, lists: emptyLists() });
  }
  session.view = viewOf(src.catalogs(), own);
  return session.view;
}

/**
 * Reads a personal member's lists into `session.ownLists`, one read at a time per member, and waits for it
 * as lists wait for a catalog: at most the list bound, and not at all once the member was late for this
 * session. A read that comes late tells the session its lists changed.
 */
async function readOwn(src: ListSources, session: AggregateSession, server: string, known: JsonObject | undefined): Promise<void> {
  let read = session.ownReads.get(server);
  if (read === undefined) {
    const member = src.member(session, server);
    const initialize = known ?? { capabilities: { tools: {}, prompts: {}, resources: {} } };
    const entry = { isLate: false, done: Promise.resolve() };
    // A list that failed to read is empty; the next list request reads it again.
    entry.done = readLists((method, params) => member.request(method, params), initialize).then((lists) => {
      session.ownReads.delete(server);
      session.ownLists.set(server, { initialize, lists: { ...emptyLists(), ...lists } });
      if (!entry.isLate || session.isClosed) return;
      for (const kind of ['tools', 'prompts', 'resources']) session.link.deliver({ jsonrpc: '2.0', method: `notifications/${kind}/list_changed` }, undefined);
    });
    session.ownReads.set(server, entry);
    read = entry;
  }
  if (!read.isLate && !await settlesWithin(read.done, FIRST_RUN_WAIT_MS.list)) read.isLate = true;
}

function listOf(session: AggregateSession, src: ListSources, view: CatalogView, kind: ListKind, cursor: unknown): JsonObject {
  let items = view.lists[kind];
  if (session.scope !== undefined) {
    const index = kind === 'tools' ? view.tools : kind === 'prompts' ? view.prompts : undefined;
    items = items.filter((item) => {
      const server = index?.get(item.name as string)?.server ?? serverOfUri(src.registry(), (item.uri ?? item.uriTemplate) as string);
      return server !== undefined && session.scope!.has(server);
    });
  }
  const after = decodeCursor(cursor);
  if (after !== undefined) items = items.slice(items.findIndex((item) => (item.name ?? item.uri ?? item.uriTemplate) === after) + 1);
  return { [kind]: items };
}

