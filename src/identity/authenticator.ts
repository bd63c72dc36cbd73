/**
 * Who a request is: the access key (`default`), a named key, or a verified OAuth token, each turned
 * into a Principal; a 401 with the RFC 6750/9728 challenge when none fits. Keys may come in the
 * Authorization header or the `auth_key` query parameter (clients that cannot set headers); OAuth
 * tokens only in the header (MCP authorization spec: never in the query string).
 */
import type { IncomingMessage } from 'node:http';
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import { TokenError } from './jwt.ts';
import { KeyRing, type NamedKey } from './named-keys.ts';
import { OAuthVerifier, type OAuthSettings } from './oauth-verifier.ts';
import { ANONYMOUS, keyPrincipal, type Principal } from './principal.ts';
import { bearerChallenge, type Challenge, type ResourceServer } from './resource-metadata.ts';

export const DEFAULT_KEY_NAME = 'default';

export interface AuthSettings {
  authKey: string | undefined;
  namedKeys: NamedKey[] | undefined;
  oauth: OAuthSettings | undefined;
}

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
  return match === null ? '' : match[1]!;
}

export class Authenticator {
  readonly resource: ResourceServer | undefined;
  #authKey: string | undefined;
  #ring: KeyRing | undefined;
  #oauth: OAuthVerifier | undefined;
  #isKeyed: boolean;

  constructor(settings: AuthSettings, onError: (err: Error) => void) {
    this.#authKey = settings.authKey;
    this.#isKeyed = settings.authKey !== undefined || settings.namedKeys !== undefined;
    this.setKeys(settings.namedKeys ?? []);
    const { oauth } = settings;
    if (oauth !== undefined) {
      this.#oauth = new OAuthVerifier(oauth, onError);
      this.resource = { publicUrl: oauth.publicUrl, issuers: oauth.issuers, scopes: oauth.scopes, name: 'mcpproxy' };
    }
  }

  get isRequired(): boolean {
    return this.#isKeyed || this.#oauth !== undefined;
  }

  /** Replaces the named keys (SIGHUP); the `--auth-key` key stays as `default`. */
  setKeys(keys: NamedKey[]): void {
    const all = this.#authKey === undefined ? keys : [{ name: DEFAULT_KEY_NAME, key: this.#authKey }, ...keys];
    this.#ring = all.length === 0 ? undefined : new KeyRing(all);
  }

  /** The request's principal; a ProxyError 401 (challenge for the resource at `resourcePath`) when it has none. */
  async authenticate(req: IncomingMessage, url: URL, resourcePath: string): Promise<Principal> {
    if (!this.isRequired) return ANONYMOUS;
    if (url.searchParams.has('access_token')) throw this.unauthorized(resourcePath, 'access tokens are not accepted in the query string', 'invalid_request');
    const bearer = bearerOf(req);
    if (bearer === '') throw this.unauthorized(resourcePath, 'malformed Authorization header', 'invalid_request');
    const queryKey = url.searchParams.get('auth_key') ?? undefined;
    const presented = bearer ?? queryKey;
    if (presented === undefined) throw this.unauthorized(resourcePath, 'access key or token required');
    const name = this.#ring?.match(presented);
    if (name !== undefined) return keyPrincipal(name, bearer === undefined);
    if (this.#oauth === undefined || bearer === undefined) throw this.unauthorized(resourcePath, 'access key rejected', 'invalid_token');
    try {
      return await this.#oauth.verify(bearer);
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      throw this.unauthorized(resourcePath, `token rejected: ${err.message}`, 'invalid_token');
    }
  }

  /** Whether a request presents a credential at all (a post to an SSE session may rely on its session instead). */
  hasCredential(req: IncomingMessage, url: URL): boolean {
    return req.headers.authorization !== undefined || url.searchParams.has('auth_key') || url.searchParams.has('access_token');
  }

  /** The scopes every request needs (--oauth-scopes); a token without them gets 403 insufficient_scope. */
  checkRequiredScopes(principal: Principal, resourcePath: string): void {
    if (principal.kind !== 'oauth' || this.resource === undefined) return;
    const missing = this.resource.scopes.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length > 0) throw this.insufficientScope(resourcePath, this.resource.scopes);
  }

  unauthorized(resourcePath: string, message: string, error?: Challenge['error']): ProxyError {
    const challenge = this.resource === undefined
      ? 'Bearer realm="mcpproxy"'
      : bearerChallenge(this.resource, resourcePath, { error, description: error === undefined ? undefined : message, scopes: this.resource.scopes });
    return new ProxyError(401, RpcCode.serverError, message, { headers: { 'www-authenticate': challenge } });
  }

  /**
   * An MCP client's request refused for its access key when no OAuth is configured: 403, not 401. The
   * MCP SDKs' transports (in Claude Code, mcp-remote, the Inspector) start an OAuth flow on any 401
   * whatever its challenge says (discovery, then dynamic client registration: "DCR rejected (HTTP 404)",
   * "Interactive OAuth requires a TTY"); a 403 reaches the user as this body's message instead.
   * Undefined when OAuth is configured: then the 401 and its metadata are the way in.
   */
  keyRefusal(refused: ProxyError): ProxyError | undefined {
    if (this.resource !== undefined || refused.status !== 401) return undefined;
    const message = refused.message === 'access key or token required'
      ? 'access key required: send it as Authorization: Bearer <key> (or ?auth_key=<key>)'
      : `${refused.message}: send the proxy's access key as Authorization: Bearer <key>`;
    return new ProxyError(403, RpcCode.serverError, message);
  }

  /** 403 with the scopes that would allow the request, so a client can ask the user for more (step-up). */
  insufficientScope(resourcePath: string, scopes: readonly string[]): ProxyError {
    const headers: Record<string, string> = this.resource === undefined ? {}
      : { 'www-authenticate': bearerChallenge(this.resource, resourcePath, { error: 'insufficient_scope', description: 'more scope needed', scopes }) };
    return new ProxyError(403, RpcCode.serverError, `insufficient scope: needs ${scopes.join(' ')}`, { headers });
  }

  stop(): void {
    this.#oauth?.stop();
  }
}
