/**
 * Which member a client's request is for, by the namespaced name or URI it carries, rewritten in place
 * to the member's own; and the way back for URIs in results. Pure over the view and the registry.
 */
import { isAllowedEnvName } from '../../config/env-policy.ts';
import { headersBesideVariables, headersFor, isHeaderKey } from '../../config/forwarded-headers.ts';
import type { ServerSpec } from '../../config/server-spec.ts';
import { RpcCode } from '../../protocol/errors.ts';
import { isObject, type JsonObject } from '../../protocol/message.ts';
import { matcherOf } from '../name-filter.ts';
import type { Registry } from '../registry.ts';
import type { CatalogView } from './catalog-view.ts';
import { exposedUri, memberUri } from './namespace.ts';

/** `isUnknown`: the name or URI is in no member's list (yet): a member still starting may bring it. */
export type Routed = { server: string } | { error: string; code: number; isUnknown?: true };

export function routeMessage(view: CatalogView, registry: Registry, method: string, params: JsonObject): Routed {
  switch (method) {
    case 'tools/call':
      return byName(view.tools, params, 'tool');
    case 'prompts/get':
      return byName(view.prompts, params, 'prompt');
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return byUri(view, registry, params);
    case 'completion/complete': {
      const ref = isObject(params.ref) ? params.ref : {};
      if (ref.type === 'ref/prompt') return byName(view.prompts, ref, 'prompt');
      if (ref.type === 'ref/resource') return byUri(view, registry, ref, 'uri');
      return { error: 'completion/complete: unknown ref type', code: RpcCode.invalidParams };
    }
  }
  return { error: `Method not found: ${method.slice(0, 100)}`, code: RpcCode.methodNotFound };
}

function byName(index: CatalogView['tools'], params: JsonObject, what: string): Routed {
  const name = params.name;
  const target = typeof name === 'string' ? index.get(name) : undefined;
  if (target === undefined) return { error: `Unknown ${what}: ${String(name).slice(0, 100)}`, code: RpcCode.invalidParams, isUnknown: true };
  params.name = target.memberName;
  return { server: target.server };
}

/** A listed URI maps exactly; one made from a template maps by its `<prefix>+` (or to an unprefixed member). */
function byUri(view: CatalogView, registry: Registry, params: JsonObject, key = 'uri'): Routed {
  const uri = params[key];
  if (typeof uri !== 'string') return { error: `params.${key} must be a string`, code: RpcCode.invalidParams };
  let target = view.resources.get(uri);
  if (target === undefined) {
    const server = serverOfUri(registry, uri);
    const spec = server === undefined ? undefined : registry.get(server)?.spec;
    const inner = spec === undefined ? undefined : memberUri(spec.prefix, uri);
    if (server !== undefined && inner !== undefined) target = { server, memberName: inner };
  }
  if (target === undefined) return { error: `Unknown resource: ${uri.slice(0, 200)}`, code: RpcCode.invalidParams, isUnknown: true };
  const matcher = matcherOf(registry.get(target.server)?.spec.filter);
  if (matcher !== undefined && !matcher.allows(target.memberName)) return { error: `Unknown resource: ${uri.slice(0, 200)}`, code: RpcCode.invalidParams, isUnknown: true };
  params[key] = target.memberName;
  return { server: target.server };
}

/** The member whose prefix the URI carries; else the first enabled member without a prefix. */
export function serverOfUri(registry: Registry, uri: string): string | undefined {
  const units = registry.units.filter((unit) => !unit.spec.isDisabled);
  const prefixed = units.find((unit) => unit.spec.prefix !== '' && uri.startsWith(`${unit.spec.prefix}+`));
  return (prefixed ?? units.find((unit) => unit.spec.prefix === ''))?.spec.name;
}

export function exposed(prefix: string, uri: string): string {
  return exposedUri(prefix, uri);
}

/** `contents[].uri` of a read, and resource links in tool results, carry the member's URIs: give them the prefix. */
export function mapResultUris(prefix: string, result: JsonObject): void {
  if (prefix === '') return;
  for (const list of [result.contents, result.content]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (!isObject(item)) continue;
      if (typeof item.uri === 'string') item.uri = exposedUri(prefix, item.uri);
      if (isObject(item.resource) && typeof item.resource.uri === 'string') item.resource.uri = exposedUri(prefix, item.resource.uri);
    }
  }
}

/**
 * What a member's session gets of an aggregate session's environment, as on the member's own route: a
 * remote member with `forwardHeaders` its listed headers; any other the variables it allows and those
 * set from verified claims (`claimNames`: they reach every server, as on its own route).
 */
export function envFor(spec: Pick<ServerSpec, 'allowEnv' | 'remote'>, env: Record<string, string>, claimNames: ReadonlySet<string>): Record<string, string> {
  const forwardHeaders = spec.remote?.forwardHeaders ?? [];
  if (forwardHeaders.length > 0) return headersBesideVariables(headersFor(forwardHeaders, env));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!isHeaderKey(name) && (claimNames.has(name) || isAllowedEnvName(name, spec.allowEnv))) out[name] = value;
  }
  return out;
}
