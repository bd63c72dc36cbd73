/** MCP protocol revisions the proxy speaks, and how a client's requested version is answered. */

/** Stateful revisions with an `initialize` handshake, oldest first. */
export const LEGACY_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;
export const LATEST_LEGACY_VERSION = '2025-11-25';
/** Stateless revisions (no handshake, `_meta` envelope on every request). */
export const MODERN_VERSIONS = ['2026-07-28'] as const;
/** What an absent MCP-Protocol-Version header means on a Streamable HTTP session (spec: 2025-03-26). */
export const DEFAULT_HTTP_VERSION = '2025-03-26';

export function isLegacyVersion(version: unknown): version is string {
  return typeof version === 'string' && (LEGACY_VERSIONS as readonly string[]).includes(version);
}

export function isModernVersion(version: unknown): version is string {
  return typeof version === 'string' && (MODERN_VERSIONS as readonly string[]).includes(version);
}

/**
 * The version a proxy answers a client with when the child already negotiated `childVersion`:
 * the client's own if the proxy knows it and the child speaks at least that, else the child's.
 * ISO dates compare correctly as strings.
 */
export function negotiateVersion(requested: unknown, childVersion: string): string {
  if (isLegacyVersion(requested) && requested <= childVersion) return requested;
  return childVersion;
}
