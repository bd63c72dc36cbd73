/**
 * Which host path a sandboxed child's error names that its view hid: a start failure caused by the
 * sandbox should say so, not only "exited with code 1". Pure: what is visible and what exists on the
 * host come in as functions.
 */
import { SANDBOX_HOME } from './bwrap-args.ts';

/** Lines that report a missing file or module (Node, Python, bwrap's execvp, sh, ld.so). */
const MISSING = /ENOENT|No such file|not found|Cannot find|can't open|cannot open|ERR_MODULE_NOT_FOUND|MODULE_NOT_FOUND/i;
/** Node: "Cannot find package 'ajv' imported from /srv/app/node_modules/x/dist/index.js". */
const NODE_IMPORT = /Cannot find (?:package|module) '([^']+)' imported from (\/[^\s'"]+)/;
/** An absolute path in a message, up to a space, quote, colon, comma or bracket. */
const ABSOLUTE_PATH = /(?<![\w.:/-])\/[^\s'"`:,()[\]]+/g;
/** The child's own (the host has them too, but they are not what the child meant). Below /tmp a host path is a host path. */
const PRIVATE_DIRS = ['/proc', '/dev', SANDBOX_HOME];
const PRIVATE_ROOTS = ['/', '/tmp'];

/**
 * The first host path `line` names (or Node's module resolution would have found) that exists on the
 * host but not in the view; undefined when the line reports no missing file or names none hidden.
 */
export function hiddenPathIn(line: string, isVisible: (path: string) => boolean, exists: (path: string) => boolean): string | undefined {
  if (!MISSING.test(line)) return undefined;
  const isHidden = (path: string): boolean =>
    !PRIVATE_ROOTS.includes(path) && !PRIVATE_DIRS.some((dir) => path === dir || path.startsWith(`${dir}/`)) && !isVisible(path) && exists(path);
  const imported = NODE_IMPORT.exec(line);
  if (imported !== null && !imported[1]!.startsWith('.') && !imported[1]!.startsWith('/')) {
    const name = imported[1]!.split('/').slice(0, imported[1]!.startsWith('@') ? 2 : 1).join('/');
    for (const dir of ancestors(imported[2]!)) {
      const candidate = `${dir === '/' ? '' : dir}/node_modules/${name}`;
      if (isHidden(candidate)) return candidate;
    }
  }
  for (const match of line.matchAll(ABSOLUTE_PATH)) {
    const path = match[0].replace(/[.;]+$/, '');
    if (isHidden(path)) return path;
  }
  return undefined;
}

/** The directories above `file`, nearest first, down to `/`. */
function ancestors(file: string): string[] {
  const dirs: string[] = [];
  let dir = file.slice(0, file.lastIndexOf('/')) || '/';
  for (;;) {
    dirs.push(dir);
    if (dir === '/') return dirs;
    dir = dir.slice(0, dir.lastIndexOf('/')) || '/';
  }
}
