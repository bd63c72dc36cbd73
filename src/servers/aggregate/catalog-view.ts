/**
 * The aggregate's lists, built from its members' catalogs: names and URIs namespaced, filters applied,
 * collisions resolved (the first member in configuration order wins; the rest are shadowed and
 * reported), and indexes from every exposed name back to its member. Pure: snapshots in, a view out.
 */
import type { JsonObject } from '../../protocol/message.ts';
import type { NameMatcher } from '../name-filter.ts';
import { emptyLists, type CatalogSnapshot, type ListKind } from './list-reading.ts';
import { exposedName, exposedUri } from './namespace.ts';

export interface MemberView {
  name: string;
  prefix: string;
  matcher: NameMatcher | undefined;
  snapshot: CatalogSnapshot | undefined;
}

export interface Target {
  server: string;
  /** The member's own name (tools, prompts) or URI (resources). */
  memberName: string;
}

export interface CatalogView {
  lists: Record<ListKind, JsonObject[]>;
  tools: Map<string, Target>;
  prompts: Map<string, Target>;
  /** Exposed URI → member; templates are matched by prefix at call time. */
  resources: Map<string, Target>;
  shadowed: Array<{ kind: string; name: string; server: string; winner: string }>;
  renamed: Array<{ server: string; from: string; to: string }>;
}

export function buildView(members: MemberView[]): CatalogView {
  const view: CatalogView = {
    lists: emptyLists(),
    tools: new Map(), prompts: new Map(), resources: new Map(), shadowed: [], renamed: [],
  };
  for (const member of members) {
    const { snapshot, matcher } = member;
    if (snapshot === undefined) continue;
    for (const kind of ['tools', 'prompts'] as const) {
      for (const item of snapshot.lists[kind]) {
        if (typeof item.name !== 'string' || (matcher !== undefined && !matcher.allows(item.name))) continue;
        const { name, isRenamed } = exposedName(member.prefix, item.name);
        const index = view[kind];
        const winner = index.get(name);
        if (winner !== undefined) {
          view.shadowed.push({ kind, name, server: member.name, winner: winner.server });
          continue;
        }
        if (isRenamed) view.renamed.push({ server: member.name, from: item.name, to: name });
        index.set(name, { server: member.name, memberName: item.name });
        view.lists[kind].push({ ...item, name });
      }
    }
    for (const item of snapshot.lists.resources) {
      if (typeof item.uri !== 'string' || (matcher !== undefined && !matcher.allows(item.uri))) continue;
      const uri = exposedUri(member.prefix, item.uri);
      const winner = view.resources.get(uri);
      if (winner !== undefined) {
        view.shadowed.push({ kind: 'resources', name: uri, server: member.name, winner: winner.server });
        continue;
      }
      view.resources.set(uri, { server: member.name, memberName: item.uri });
      view.lists.resources.push({ ...item, uri });
    }
    for (const item of snapshot.lists.resourceTemplates) {
      if (typeof item.uriTemplate !== 'string') continue;
      view.lists.resourceTemplates.push({ ...item, uriTemplate: exposedUri(member.prefix, item.uriTemplate) });
    }
  }
  return view;
}

/** The lists that differ between two views (any field of any entry, or the order). */
export function changedLists(previous: CatalogView, next: CatalogView): ListKind[] {
  return (Object.keys(next.lists) as ListKind[]).filter((kind) => JSON.stringify(previous.lists[kind]) !== JSON.stringify(next.lists[kind]));
}

/**
 * What the aggregate declares: every list with list_changed, subscriptions, logging and completions,
 * whatever members are up. Clients keep a session's capabilities for its life, and members come, go
 * and reload under it: a capability missing at connect would hide a member's tools for good. A
 * request a member cannot serve gets that member's own error.
 */
export const AGGREGATE_CAPABILITIES: JsonObject = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { listChanged: true, subscribe: true },
  logging: {},
  completions: {},
};

/** Each member's instructions in a labelled block of its own. */
export function joinInstructions(members: Array<{ name: string; snapshot: CatalogSnapshot | undefined }>): string | undefined {
  const blocks = members.flatMap(({ name, snapshot }) => {
    const text = snapshot?.initialize.instructions;
    return typeof text === 'string' && text.trim() !== '' ? [`## Server "${name}"\n${text.trim()}`] : [];
  });
  return blocks.length === 0 ? undefined : blocks.join('\n\n');
}
