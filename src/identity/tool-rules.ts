/**
 * `--allow-tools <who>=<glob,…>`: which tools a principal may list and call. `who` is `*`, a
 * principal's name (a key's name, a token's `sub`), or `<claim>:<value>` (the claim equals the value
 * or, for a list or a space-separated `scope`, contains it). A tool is allowed when any rule that
 * matches the principal has a glob for it; with no rules at all, everything is. Pure.
 */
import { globToRegExp } from '../protocol/name-glob.ts';
import type { Principal } from './principal.ts';

export interface ToolRule {
  who: string;
  claim: string | undefined;
  value: string;
  globs: RegExp[];
}

export function parseToolRule(text: string): ToolRule {
  const eq = text.indexOf('=');
  const who = text.slice(0, eq).trim();
  const globs = text.slice(eq + 1).split(',').map((glob) => glob.trim()).filter((glob) => glob !== '');
  if (eq <= 0 || globs.length === 0) throw new Error(`"${text.slice(0, 80)}" must be <principal or claim:value>=<glob,…>`);
  const colon = who.indexOf(':');
  return {
    who,
    claim: colon > 0 ? who.slice(0, colon) : undefined,
    value: colon > 0 ? who.slice(colon + 1) : who,
    globs: globs.map(globToRegExp),
  };
}

function claimHas(principal: Principal, claim: string, value: string): boolean {
  if (claim === 'scope') return principal.scopes.includes(value);
  const held = principal.claims[claim];
  if (Array.isArray(held)) return held.some((item) => String(item) === value);
  return held !== undefined && String(held) === value;
}

function applies(rule: ToolRule, principal: Principal): boolean {
  if (rule.claim !== undefined) return claimHas(principal, rule.claim, rule.value);
  return rule.value === '*' || rule.value === principal.name;
}

export type ToolVerdict = { allowed: true } | { allowed: false; scopes: string[] };

export class ToolRules {
  #rules: ToolRule[];

  constructor(rules: ToolRule[]) {
    this.#rules = rules;
  }

  get isEmpty(): boolean {
    return this.#rules.length === 0;
  }

  /** Allowed, or refused with the scopes that would allow it (for a step-up 403), possibly none. */
  check(principal: Principal, tool: string): ToolVerdict {
    if (this.#rules.length === 0) return { allowed: true };
    const covering = this.#rules.filter((rule) => rule.globs.some((re) => re.test(tool)));
    if (covering.some((rule) => applies(rule, principal))) return { allowed: true };
    return { allowed: false, scopes: covering.filter((rule) => rule.claim === 'scope').map((rule) => rule.value) };
  }
}
