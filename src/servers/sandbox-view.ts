/**
 * Which host paths a server's children see besides the system dirs (docs/SANDBOX.md, "What a child
 * sees"): what its command and its arguments need to run, the way each install method lays them out,
 * and nothing of the directories around them.
 */
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import type { ServerSpec } from '../config/server-spec.ts';
import { SYSTEM_DIRS } from '../upstream/sandbox/bwrap-args.ts';

/** What of the host a server's children see besides the system dirs, and where they start. */
export interface SandboxView {
  readOnly: string[];
  writable: string[];
  masked: Array<{ path: string; isDir: boolean }>;
  workDir: string | undefined;
  /** The command's absolute path as bwrap execs it (launch.ts); undefined when it is not found. */
  execPath: string | undefined;
}

/** `#!/usr/bin/env -S node --flag` → node; `#!/srv/venv/bin/python` → that path. Interpreters of interpreters: 2 deep. */
const MAX_INTERPRETER_DEPTH = 2;
const SHEBANG_BYTES = 256;
/** What marks a package or project root: its dependencies and modules sit below it. */
const PROJECT_MARKERS = ['package.json', 'pyproject.toml'];

/**
 * The host paths a server's command needs, read-only:
 * - the command, found on PATH as the child would, and what it runs on: a script's interpreter (its
 *   `#!` line, `env` resolved on PATH), a Python venv (the directory with `pyvenv.cfg`, and the base
 *   interpreter's prefix named by its `home`), the install prefix of a binary (not a script) in a `bin`
 *   directory (a node or python from nvm or pyenv; only `lib` of `~/.local`, which holds other tools' data);
 * - each argument that names an existing path (absolute, or relative to its working directory);
 * - for each file that is not a binary's, its project root (the nearest directory with a package.json
 *   or pyproject.toml) and every `node_modules` directory Node's resolution would search above it
 *   (hoisted dependencies of a package in `/srv/app/node_modules/<pkg>`, a monorepo's root), else the
 *   file alone;
 * - the server's `readOnly` and `writable` lists.
 * `hidden` paths inside those are masked. The child starts in its working directory when that is
 * visible, so relative arguments mean what they mean without the sandbox; else in its home. The
 * working directory itself is not shown whole: run from a home directory, that would show ~/.ssh.
 */
export function sandboxView(spec: ServerSpec, hidden: readonly string[], proxyCwd = process.cwd(), hostEnv: NodeJS.ProcessEnv = process.env): SandboxView {
  const cwd = spec.cwd === undefined ? proxyCwd : resolve(proxyCwd, spec.cwd);
  const searchPath = spec.env.PATH ?? hostEnv.PATH ?? '';
  const paths = new Set<string>();
  const found = findCommand(spec.command, searchPath, cwd);
  if (found !== undefined) addExecutable(found, searchPath, paths, 0);
  for (const arg of spec.args) {
    if (arg.startsWith('-') || arg === '') continue;
    const path = resolve(cwd, arg);
    if (existsSync(path)) addFile(realpathSync(path), paths);
  }
  for (const path of spec.sandbox.readOnlyPaths) paths.add(path);
  const readOnly = outermost([...paths]);
  const writable = spec.sandbox.writablePaths;
  const isShown = (path: string): boolean => isSystem(path) || [...readOnly, ...writable].some((dir) => isUnder(path, dir));
  const masked = hidden
    .filter((h) => existsSync(h) && [...readOnly, ...writable].some((dir) => isUnder(h, dir)))
    .map((path) => ({ path, isDir: statSync(path).isDirectory() }));
  const isVisible = cwd === '/' || isShown(cwd) || [...readOnly, ...writable].some((dir) => isUnder(dir, cwd));
  // A symlinked bin outside the view (~/bin/server → /opt/server/bin/server) runs by its real path.
  const execPath = found === undefined ? undefined : isShown(found) ? found : realpathSync(found);
  return { readOnly, writable, masked, workDir: isVisible ? cwd : undefined, execPath };
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

function isSystem(path: string): boolean {
  return SYSTEM_DIRS.some((dir) => isUnder(path, dir));
}

/** Paths not inside another one of the list: one mount each. */
function outermost(paths: string[]): string[] {
  return paths.filter((path) => !paths.some((other) => other !== path && isUnder(path, other)));
}

/** The command as exec would find it (a name on PATH, or a path from the working directory), not resolved. */
function findCommand(command: string, searchPath: string, cwd: string): string | undefined {
  const candidates = command.includes('/') ? [resolve(cwd, command)] : searchPath.split(delimiter).filter((d) => d !== '').map((d) => resolve(cwd, d, command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function addExecutable(found: string, searchPath: string, paths: Set<string>, depth: number): void {
  const real = realpathSync(found);
  for (const path of new Set([found, real])) {
    const venv = venvOf(path);
    if (venv === undefined) continue;
    paths.add(venv.root);
    if (venv.home !== undefined && existsSync(venv.home)) addPrefix(realpathSync(venv.home), paths);
  }
  const interpreter = interpreterOf(real, searchPath);
  if (interpreter === undefined && basename(dirname(real)) === 'bin') return addPrefix(dirname(real), paths, real);
  addFile(real, paths);
  if (interpreter !== undefined && depth < MAX_INTERPRETER_DEPTH) addExecutable(interpreter, searchPath, paths, depth + 1);
}

/** The prefix above a `bin` directory (its `lib` holds what the binary loads); `~/.local`: only `lib` and the binary. */
function addPrefix(binDir: string, paths: Set<string>, binary?: string): void {
  const prefix = basename(binDir) === 'bin' ? dirname(binDir) : binDir;
  if (isSystem(prefix)) return;
  if (basename(prefix) !== '.local') return void paths.add(prefix);
  if (binary !== undefined) paths.add(binary);
  if (existsSync(join(prefix, 'lib'))) paths.add(join(prefix, 'lib'));
}

/** A file's project root and the node_modules above it, or the file alone. */
function addFile(real: string, paths: Set<string>): void {
  if (isSystem(real)) return;
  const root = projectRoot(real);
  paths.add(root ?? real);
  if (root === undefined) return;
  for (let dir = dirname(root); ; dir = dirname(dir)) {
    const modules = join(dir, 'node_modules');
    if (!isSystem(modules) && existsSync(modules)) paths.add(modules);
    if (dir === '/') break;
  }
}

function projectRoot(path: string): string | undefined {
  let dir = statSync(path).isDirectory() ? path : dirname(path);
  while (dir !== '/') {
    if (PROJECT_MARKERS.some((marker) => existsSync(join(dir, marker)))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/** A venv whose `bin` holds `path`, and its base interpreter's directory (`home` in pyvenv.cfg). */
function venvOf(path: string): { root: string; home: string | undefined } | undefined {
  if (basename(dirname(path)) !== 'bin') return undefined;
  const root = dirname(dirname(path));
  let cfg: string;
  try {
    cfg = readFileSync(join(root, 'pyvenv.cfg'), 'utf8');
  } catch {
    return undefined;
  }
  return { root, home: /^\s*home\s*=\s*(.+?)\s*$/m.exec(cfg)?.[1] };
}

/** The interpreter a script's `#!` line names, found as the kernel (or `env`, on PATH) would. */
function interpreterOf(path: string, searchPath: string): string | undefined {
  const head = Buffer.alloc(SHEBANG_BYTES);
  let bytes = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      bytes = readSync(fd, head, 0, SHEBANG_BYTES, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const line = head.subarray(0, bytes).toString('utf8').split('\n')[0]!;
  if (!line.startsWith('#!')) return undefined;
  const words = line.slice(2).trim().split(/\s+/);
  if (basename(words[0] ?? '') !== 'env') return words[0] === undefined || words[0] === '' ? undefined : words[0];
  const name = words.slice(1).find((word) => !word.startsWith('-') && !word.includes('='));
  return name === undefined ? undefined : findCommand(name, searchPath, '/');
}
