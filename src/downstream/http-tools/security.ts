/**
 * How the proxy is protected, as OpenAPI security schemes. Pure: the front says how it is protected
 * (access keys, OAuth tokens, or nothing) and the document says the same to clients.
 */
import type { JsonObject } from '../../protocol/message.ts';

export type Protection =
  | { kind: 'none' }
  /** The access key: `Authorization: Bearer <key>` or the `auth_key` query parameter. */
  | { kind: 'key' }
  /** OAuth access tokens from `issuers`; clients discover how to get one from the RFC 9728 metadata. */
  | { kind: 'oauth'; issuers: string[]; metadataUrl: string };

/** The `components.securitySchemes` and the top-level `security` requirement for `protection`. */
export function securityOf(protection: Protection): { schemes: JsonObject; security: Array<Record<string, string[]>> } {
  switch (protection.kind) {
    case 'none':
      return { schemes: {}, security: [] };
    case 'key':
      return {
        schemes: {
          bearerKey: { type: 'http', scheme: 'bearer', description: 'The proxy access key (--auth-key).' },
          queryKey: { type: 'apiKey', in: 'query', name: 'auth_key', description: 'The same key as a query parameter.' },
        },
        security: [{ bearerKey: [] }, { queryKey: [] }],
      };
    case 'oauth': {
      const description = `An OAuth access token from ${protection.issuers.join(' or ')} (protected resource metadata: ${protection.metadataUrl}).`;
      return { schemes: { oauth: { type: 'http', scheme: 'bearer', description } }, security: [{ oauth: [] }] };
    }
  }
}
