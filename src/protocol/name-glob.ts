/**
 * The glob that server filters (`tools` allow/deny) and principals' `--allow-tools` rules both write
 * over tool and prompt names and resource URIs: `*` any run of characters, `?` one, everything else literal.
 */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${body}$`, 's');
}
