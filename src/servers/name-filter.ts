/** A server's `tools` allow/deny globs, over tool and prompt names and resource URIs. Deny wins. Pure. */
import type { NameFilter } from '../config/server-spec.ts';
import { globToRegExp } from '../protocol/name-glob.ts';

export class NameMatcher {
  #allow: RegExp[];
  #deny: RegExp[];

  constructor(filter: NameFilter) {
    this.#allow = filter.allow.map(globToRegExp);
    this.#deny = filter.deny.map(globToRegExp);
  }

  allows(name: string): boolean {
    return !this.#deny.some((re) => re.test(name)) && this.#allow.some((re) => re.test(name));
  }
}

/** What a client may see and call of one server: everything, or what the filter lets through. */
export function matcherOf(filter: NameFilter | undefined): NameMatcher | undefined {
  return filter === undefined ? undefined : new NameMatcher(filter);
}
