/**
 * RFC 9728 Protected Resource Metadata and the RFC 6750 challenges that point clients at it.
 * Resource identifiers come from --public-url, never from the Host header: clients compare the
 * `resource` with the exact URL they dialled, path included, without a trailing slash.
 */

export const METADATA_PREFIX = '/.well-known/oauth-protected-resource';

export interface ResourceServer {
  /** Scheme, host and port only, no trailing slash. */
  publicUrl: string;
  issuers: readonly string[];
  scopes: readonly string[];
  name: string;
}

/** The public URL of the endpoint at `path` ('' for the proxy itself). */
export function resourceUrl(server: ResourceServer, path: string): string {
  return `${server.publicUrl}${path}`;
}

/** Where the metadata of the resource at `path` lives: the well-known prefix goes before the path (RFC 9728 §3.1). */
export function metadataUrl(server: ResourceServer, path: string): string {
  return `${server.publicUrl}${METADATA_PREFIX}${path}`;
}

export function metadataDocument(server: ResourceServer, path: string): Record<string, unknown> {
  return {
    resource: resourceUrl(server, path),
    authorization_servers: server.issuers,
    ...(server.scopes.length > 0 ? { scopes_supported: server.scopes } : {}),
    bearer_methods_supported: ['header'],
    resource_name: server.name,
  };
}

/** A quoted-string value (RFC 9110 §5.6.4): backslash-escape quotes and backslashes. */
function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

export interface Challenge {
  /** Only when a token was sent and refused (RFC 6750 §3.1): a client without one just needs to log in. */
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request';
  description?: string;
  scopes: readonly string[];
}

/** `Bearer resource_metadata="…", scope="…", error="…"` for the resource at `path`. */
export function bearerChallenge(server: ResourceServer, path: string, challenge: Challenge): string {
  const params = [`resource_metadata=${quoted(metadataUrl(server, path))}`];
  if (challenge.scopes.length > 0) params.push(`scope=${quoted(challenge.scopes.join(' '))}`);
  if (challenge.error !== undefined) params.push(`error=${quoted(challenge.error)}`);
  if (challenge.description !== undefined) params.push(`error_description=${quoted(challenge.description)}`);
  return `Bearer ${params.join(', ')}`;
}
