/**
 * The 2026-07-28 request envelope and its HTTP headers: telling a modern request from a legacy one by
 * its body (never by a missing header), and checking headers against the body in the spec's order.
 * Pure: values in, ProxyError out.
 */
import { headerMismatch, ProxyError, RpcCode } from '../../protocol/errors.ts';
import { isObject, type JsonObject } from '../../protocol/message.ts';
import { isLogLevel } from '../../protocol/log-levels.ts';
import { isModernVersion, MODERN_VERSIONS } from '../../protocol/versions.ts';
import { decodeHeaderValue, type Headers } from '../../protocol/header-values.ts';

import { CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY, PROTOCOL_VERSION_KEY } from '../../protocol/meta-keys.ts';
/** What withoutEnvelope removes; the log level stays with its request (see there). */
const REMADE_KEYS = [PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY];

export function metaOf(params: unknown): JsonObject | undefined {
  return isObject(params) && isObject(params._meta) ? params._meta : undefined;
}

/** A message claims the modern envelope iff its `_meta` holds the protocol-version key (the SDK's rule). */
export function hasEnvelopeClaim(message: unknown): boolean {
  const meta = isObject(message) ? metaOf(message.params) : undefined;
  return meta !== undefined && PROTOCOL_VERSION_KEY in meta;
}

/** A header's value when it is present once and not empty. */
export function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Which era a POST body belongs to (MCP-ERAS §1.4); throws for the combinations that are errors. */
export function classifyPost(body: unknown, headers: Headers): 'legacy' | 'modern' {
  const versionHeader = header(headers, 'mcp-protocol-version');
  const hasModernHeader = isModernVersion(versionHeader);
  if (Array.isArray(body)) {
    if (body.some(hasEnvelopeClaim)) throw new ProxyError(400, RpcCode.invalidRequest, 'Invalid Request: batches are not allowed in protocol 2026-07-28');
    return 'legacy';
  }
  if (!isObject(body) || !('method' in body)) return 'legacy'; // a posted response, or garbage the legacy path rejects
  const isClaim = hasEnvelopeClaim(body);
  if (body.method === 'initialize' && !isClaim) {
    if (hasModernHeader) throw headerMismatch(`initialize does not exist in protocol ${versionHeader}`);
    return 'legacy';
  }
  if (isClaim) return 'modern';
  if (hasModernHeader) {
    if (body.id === undefined) return 'modern'; // a notification: modern by its header alone
    throw new ProxyError(400, RpcCode.invalidParams, `Invalid params: MCP-Protocol-Version ${versionHeader} requires the _meta envelope`);
  }
  return 'legacy';
}

/** The body field a method's `Mcp-Name` header must equal. */
function nameField(method: string): 'name' | 'uri' | undefined {
  if (method === 'tools/call' || method === 'prompts/get') return 'name';
  if (method === 'resources/read') return 'uri';
  return undefined;
}

/**
 * Checks a modern request in the spec's order: version header vs claim (-32020), envelope shape (-32602),
 * version served (-32022 with `supported`), then required headers present and equal to the body (-32020).
 */
export function validateModernRequest(body: JsonObject, headers: Headers): void {
  const method = body.method as string;
  const meta = metaOf(body.params)!;
  const claim = meta[PROTOCOL_VERSION_KEY];
  const versionHeader = header(headers, 'mcp-protocol-version');
  if (versionHeader !== undefined && versionHeader !== claim) {
    throw headerMismatch(`MCP-Protocol-Version ${versionHeader} differs from the envelope's ${String(claim)}`);
  }
  const problem = envelopeProblem(meta);
  if (problem !== undefined) throw new ProxyError(400, RpcCode.invalidParams, `Invalid params: ${problem}`);
  if (!isModernVersion(claim)) {
    throw new ProxyError(400, RpcCode.unsupportedProtocolVersion, `Unsupported protocol version: ${String(claim)}`, {
      data: { supported: [...MODERN_VERSIONS], requested: claim },
    });
  }
  if (versionHeader === undefined) throw headerMismatch('MCP-Protocol-Version header required');
  const methodHeader = header(headers, 'mcp-method');
  if (methodHeader === undefined) throw headerMismatch('Mcp-Method header required');
  if (decodeHeaderValue(methodHeader) !== method) throw headerMismatch(`Mcp-Method ${methodHeader} differs from the body's ${method}`);
  const field = nameField(method);
  if (field !== undefined) {
    const nameHeader = header(headers, 'mcp-name');
    const value = isObject(body.params) ? body.params[field] : undefined;
    if (nameHeader === undefined) throw headerMismatch(`Mcp-Name header required for ${method}`);
    if (decodeHeaderValue(nameHeader) !== value) throw headerMismatch(`Mcp-Name differs from params.${field}`);
  }
}

function envelopeProblem(meta: JsonObject): string | undefined {
  if (typeof meta[PROTOCOL_VERSION_KEY] !== 'string') return `_meta["${PROTOCOL_VERSION_KEY}"] must be a string`;
  if (!isObject(meta[CLIENT_CAPABILITIES_KEY])) return `_meta["${CLIENT_CAPABILITIES_KEY}"] must be an object`;
  if (CLIENT_INFO_KEY in meta && !isObject(meta[CLIENT_INFO_KEY])) return `_meta["${CLIENT_INFO_KEY}"] must be an object`;
  if (LOG_LEVEL_KEY in meta && !isLogLevel(meta[LOG_LEVEL_KEY])) return `_meta["${LOG_LEVEL_KEY}"] is not a log level`;
  return undefined;
}

/** The client's declared capabilities (validated already). */
export function clientCapabilitiesOf(body: JsonObject): JsonObject {
  return (metaOf(body.params)?.[CLIENT_CAPABILITIES_KEY] as JsonObject | undefined) ?? {};
}

/**
 * `params` without the envelope keys the proxy makes anew for the child (a legacy child knows nothing of
 * them; a modern one gets the proxy's). progressToken, trace keys and `logLevel` stay: the level is this
 * request's own, sent on to a modern child, and removed by the upstream route for a legacy one. Built
 * anew, never by `delete`: V8 serializes an object that lost a property on its slow, recursive path,
 * which overflowed the stack (500) on arguments nested 100,000 deep that the 2025 eras forward whole.
 */
export function withoutEnvelope(params: JsonObject): JsonObject {
  const meta = metaOf(params);
  if (meta === undefined) return params;
  const { _meta: _envelope, ...rest } = params;
  const kept = Object.fromEntries(Object.entries(meta).filter(([key]) => !REMADE_KEYS.includes(key)));
  return Object.keys(kept).length === 0 ? rest : { ...rest, _meta: kept };
}
