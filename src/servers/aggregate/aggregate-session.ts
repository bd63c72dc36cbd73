/** One client session of the aggregate: its link, scope, environment, member sessions and what is in flight where. */
import { VERSION } from '../../config/version.ts';
import type { JsonObject, JsonRpcId } from '../../protocol/message.ts';
import { LATEST_LEGACY_VERSION } from '../../protocol/versions.ts';
import type { ClientLink } from '../contract.ts';
import type { CatalogView } from './catalog-view.ts';
import type { CatalogSnapshot } from './list-reading.ts';
import type { MemberSession } from './member-session.ts';
import { RequestRenumbering } from '../request-renumbering.ts';

export interface AggregateSession {
  link: ClientLink;
  scope: ReadonlySet<string> | undefined;
  env: Record<string, string>;
  /** Who opened it: a member that runs a child per principal serves it from that principal's child. */
  principalId: string | undefined;
  isStateless: boolean;
  isInitialized: boolean;
  initParams: JsonObject;
  logLevel: string | undefined;
  members: Map<string, MemberSession>;
  /** Client request id → the member serving it. */
  inFlight: Map<JsonRpcId, string>;
  /** Aggregate id of a member's request to the client → the member and its id. */
  serverRequests: RequestRenumbering<string>;
  /** This session's own view when independent members list for its environment; else the shared one. */
  view: CatalogView | undefined;
  /** Those members' lists as last read through this session's own children, and the read in flight for each. */
  ownLists: Map<string, CatalogSnapshot>;
  ownReads: Map<string, { done: Promise<void>; isLate: boolean }>;
  isClosed: boolean;
}

export function newSession(
  link: ClientLink, env: Record<string, string>, principalId: string | undefined, scope: string[] | undefined, isStateless: boolean,
): AggregateSession {
  return {
    link, env, principalId, scope: scope === undefined ? undefined : new Set(scope), isStateless, isInitialized: isStateless,
    initParams: { protocolVersion: LATEST_LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'mcpproxy-aggregate', version: VERSION } },
    logLevel: undefined, members: new Map(), inFlight: new Map(), serverRequests: new RequestRenumbering<string>(), view: undefined,
    ownLists: new Map(), ownReads: new Map(), isClosed: false,
  };
}
