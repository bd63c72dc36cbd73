/**
 * A real authorization server for end-to-end tests: oidc-provider on 127.0.0.1 with dynamic client
 * registration, PKCE, resource indicators (JWT access tokens whose audience is the resource, or opaque
 * ones for resources under `opaqueBase`), client credentials and introspection. Its development login
 * (login, then consent) is driven with plain HTTP by `authorize`, as a user's browser would.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

export const M2M = { clientId: 'm2m-client', clientSecret: 'm2m-secret-value-1234' };
export const INTROSPECTOR = { clientId: 'mcpproxy-introspector', clientSecret: 'introspector-secret-5678' };

export interface TestAuthServer {
  issuer: string;
  /** Resources starting with this get opaque access tokens (set before tokens are asked for). */
  opaqueBase: string | undefined;
  close(): Promise<void>;
}

export async function startAuthServer(): Promise<TestAuthServer> {
  let provider: Provider | undefined;
  const server: Server = createServer((req, res) => {
    if (provider === undefined) return void res.writeHead(503).end();
    void provider.callback()(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state: TestAuthServer = {
    issuer,
    opaqueBase: undefined,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  const signing = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'as-es256', use: 'sig', alg: 'ES256' };
  provider = new Provider(issuer, {
    clients: [
      { client_id: M2M.clientId, client_secret: M2M.clientSecret, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'mcp' },
      { client_id: INTROSPECTOR.clientId, client_secret: INTROSPECTOR.clientSecret, grant_types: [], redirect_uris: [], response_types: [] },
    ],
    jwks: { keys: [signing as never] },
    cookies: { keys: ['test-cookie-key'] },
    // Its only key is an ES256 one: clients default to it rather than RS256.
    clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code'], response_types: ['code'] },
    scopes: ['openid', 'offline_access', 'mcp'],
    pkce: { required: () => true },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    extraTokenClaims: (_ctx, token) => ('accountId' in token && typeof token.accountId === 'string' ? { email: `${token.accountId}@example.com` } : undefined),
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: 'mcp',
          audience: resource,
          accessTokenTTL: 3600,
          accessTokenFormat: state.opaqueBase !== undefined && resource.startsWith(state.opaqueBase) ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  return state;
}

/** The headless half of an MCP client's OAuth: what the SDK asks a host application to keep. */
export class MemoryOAuthProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  #client: OAuthClientInformationMixed | undefined;
  #tokens: OAuthTokens | undefined;
  #verifier = '';

  get redirectUrl(): string {
    return 'http://127.0.0.1:9/callback';
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'mcpproxy e2e', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'none', application_type: 'native',
    } as OAuthClientMetadata;
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.#client;
  }

  saveClientInformation(info: OAuthClientInformationMixed): void {
    this.#client = info;
  }

  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
  }

  redirectToAuthorization(url: URL): void {
    this.authorizationUrl = url;
  }

  saveCodeVerifier(verifier: string): void {
    this.#verifier = verifier;
  }

  codeVerifier(): string {
    return this.#verifier;
  }
}

/** Logs `user` in at the authorization URL, as a browser would; returns the query sent to the redirect URI (code, iss, state). */
export async function authorize(url: URL, user: string): Promise<URLSearchParams> {
  const cookies = new Map<string, string>();
  let next = url.href;
  let body: string | undefined;
  for (let step = 0; step < 12; step++) {
    const res = await fetch(next, {
      method: body === undefined ? 'GET' : 'POST',
      body,
      redirect: 'manual',
      headers: {
        cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    if (res.status >= 300 && res.status < 400) {
      const location = new URL(res.headers.get('location')!, next);
      if (location.searchParams.has('error')) throw new Error(`authorization refused: ${location.searchParams.get('error_description') ?? location.searchParams.get('error')}`);
      if (location.searchParams.has('code')) return location.searchParams;
      next = location.href;
      body = undefined;
      continue;
    }
    const html = await res.text();
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (prompt === undefined || action === undefined) throw new Error(`unexpected page (HTTP ${res.status}): ${html.slice(0, 300)}`);
    next = new URL(action, next).href;
    body = new URLSearchParams(prompt === 'login' ? { prompt, login: user, password: 'any' } : { prompt }).toString();
  }
  throw new Error('authorization did not finish in 12 steps');
}
