/**
 * Telling a modern (2026-07-28) stdio server from a legacy one by its answer to `server/discover`
 * (MCP-ERAS §2), on the real child (upstream-route.ts asks). Pure: any reply but a usable
 * DiscoverResult means legacy; only -32022 naming a modern version we serve earns one corrective re-ask.
 */
import { isObject, type JsonObject, type JsonRpcRequest, type JsonRpcResponse } from '../protocol/message.ts';
import { MODERN_VERSIONS } from '../protocol/versions.ts';
import { RpcCode } from '../protocol/errors.ts';
import { CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY } from '../protocol/meta-keys.ts';

export type UpstreamEra = { era: 'legacy' } | { era: 'modern'; version: string; discover: JsonObject };

export type ProbeVerdict =
  | { kind: 'modern'; version: string; discover: JsonObject }
  | { kind: 'retry'; version: string }
  | { kind: 'legacy'; reason: string };

/** The id of the first `server/discover` asked (a remote member's probe uses it too). */
export const PROBE_ID = 'server-discover-probe-1';
export const RETRY_PROBE_ID = 'server-discover-probe-2';

/** The newest modern version the proxy serves: what the first `server/discover` carries. */
export const PREFERRED_MODERN_VERSION = [...MODERN_VERSIONS].sort().at(-1)!;

/** The newest version both sides speak, or undefined. ISO dates compare correctly as strings. */
function newestShared(offered: unknown, served: readonly string[]): string | undefined {
  if (!Array.isArray(offered)) return undefined;
  const shared = offered.filter((v): v is string => typeof v === 'string' && served.includes(v));
  return shared.sort().at(-1);
}

/**
 * Classifies the reply to a `server/discover` (the SDK's probeClassifier, stdio rows).
 * Pure; `served` are the modern versions the proxy speaks.
 */
export function classifyProbeReply(reply: JsonRpcResponse, served: readonly string[] = MODERN_VERSIONS): ProbeVerdict {
  if (reply.error !== undefined) {
    const { code, data } = reply.error;
    if (code !== RpcCode.unsupportedProtocolVersion) return { kind: 'legacy', reason: `discover answered error ${code}` };
    const supported = isObject(data) ? data.supported : undefined;
    const version = newestShared(supported, served);
    if (version !== undefined) return { kind: 'retry', version };
    return { kind: 'legacy', reason: '-32022 without a modern version we serve' };
  }
  const result = reply.result;
  if (!isObject(result) || !Array.isArray(result.supportedVersions) || !isObject(result.capabilities)) {
    return { kind: 'legacy', reason: 'discover result is not a DiscoverResult' };
  }
  if (result.resultType !== undefined && result.resultType !== 'complete') {
    return { kind: 'legacy', reason: `discover resultType ${String(result.resultType)}` };
  }
  const version = newestShared(result.supportedVersions, served);
  if (version === undefined) return { kind: 'legacy', reason: 'no modern version in common' };
  return { kind: 'modern', version, discover: result };
}

export function discoverRequest(id: string, version: string, clientVersion: string): JsonRpcRequest {
  return {
    jsonrpc: '2.0', id, method: 'server/discover',
    params: {
      _meta: {
        [PROTOCOL_VERSION_KEY]: version,
        [CLIENT_INFO_KEY]: { name: 'mcpproxy', version: clientVersion },
        [CLIENT_CAPABILITIES_KEY]: {},
      },
    },
  };
}
