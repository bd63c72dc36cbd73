/** Everything identity decides for a request once its principal is known: rate limit, tool rules, env from claims. */
import { ProxyError, RpcCode } from '../protocol/errors.ts';
import type { Authenticator } from './authenticator.ts';
import type { Principal } from './principal.ts';
import { RateLimiter, type RateLimit } from './token-bucket.ts';
import { ToolRules, type ToolRule } from './tool-rules.ts';

export interface IdentityOptions {
  rateLimit: RateLimit | undefined;
  toolRules: ToolRule[];
  envFromClaim: Array<{ name: string; claim: string }>;
}

export class Identity {
  readonly authenticator: Authenticator;
  readonly rules: ToolRules;
  #limiter: RateLimiter | undefined;
  #limitText: string;
  #envFromClaim: IdentityOptions['envFromClaim'];
  #claimNames: ReadonlySet<string>;

  constructor(authenticator: Authenticator, options: IdentityOptions) {
    this.authenticator = authenticator;
    this.rules = new ToolRules(options.toolRules);
    const { rateLimit } = options;
    this.#limiter = rateLimit === undefined ? undefined : new RateLimiter(rateLimit);
    this.#limitText = rateLimit === undefined ? '' : `${rateLimit.count}/${rateLimit.periodMs === 1000 ? 's' : 'm'}`;
    this.#envFromClaim = options.envFromClaim;
    this.#claimNames = new Set(options.envFromClaim.map(({ name }) => name));
  }

  /** Takes one request from the principal's bucket; 429 with Retry-After (and a JSON-RPC body) when it is empty. */
  admit(principal: Principal): void {
    if (this.#limiter === undefined) return;
    const waitS = this.#limiter.take(principal.id, Date.now());
    if (waitS === 0) return;
    throw new ProxyError(429, RpcCode.serverError, `Too Many Requests: over ${this.#limitText} for ${principal.name}; retry in ${waitS} s`, {
      headers: { 'retry-after': String(waitS) },
    });
  }

  /** The names --env-from-claim sets: they reach a child only from a verified claim, never from the client. */
  get claimNames(): ReadonlySet<string> {
    return this.#claimNames;
  }

  /**
   * A caller's child environment: what the client asked for (already filtered by the server's allow
   * list) with the claim variables over it. A claim variable the client sent is dropped even when the
   * token lacks the claim, so its value is always the identity provider's.
   */
  callerEnv(clientEnv: Record<string, string>, principal: Principal): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(clientEnv)) if (!this.#claimNames.has(name)) env[name] = value;
    return { ...env, ...this.#claimEnv(principal) };
  }

  /** Child variables from verified claims (--env-from-claim); a claim the token lacks sets nothing. */
  #claimEnv(principal: Principal): Record<string, string> {
    const env: Record<string, string> = {};
    for (const { name, claim } of this.#envFromClaim) {
      const value = principal.claims[claim];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') env[name] = String(value);
    }
    return env;
  }
}
