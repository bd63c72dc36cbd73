/**
 * bubblewrap arguments for one child: an allow-list view of the host (system dirs read-only, TLS and
 * resolver files, a private writable home, a private /tmp), every namespace unshared, no capabilities.
 * Pure: what the host's root looks like comes in as `symlinks`, so tests need no particular host.
 */

/** Home inside the sandbox; the same path for every server, so caches and logs never name the host. */
export const SANDBOX_HOME = '/home/mcp';

/** Read-only system trees; missing ones are skipped (`--ro-bind-try`). Not /opt: operators keep configs there. */
export const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/**
 * The few files under /etc a program needs to resolve names, verify TLS and load libraries. /etc as
 * a whole is not shown: it is where an operator keeps the proxy's config and key files.
 */
export const ETC_FILES = [
  '/etc/ssl', '/etc/ca-certificates', '/etc/pki', '/etc/crypto-policies',
  '/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf',
  '/etc/passwd', '/etc/group', '/etc/localtime', '/etc/alternatives',
  '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d',
];

export interface BwrapView {
  /** The server's private home on the host, mounted writable at SANDBOX_HOME. */
  home: string;
  isNetworkOff: boolean;
  /** Extra read-only paths (e.g. the directory of a command installed outside the system dirs). */
  readOnly?: readonly string[];
  /** Host paths the child may write (shown at the same path). */
  writable?: readonly string[];
  /** Paths inside `readOnly` trees the child must not see (the servers file): masked by an empty file or dir. */
  masked?: ReadonlyArray<{ path: string; isDir: boolean }>;
  /**
   * Host files bound read-only at `target`, after every other mount (so over a path a tree above shows):
   * package managers' configuration with its credentials taken out.
   */
  files?: ReadonlyArray<{ source: string; target: string }>;
  /** Where the child starts; visible through `readOnly` or the system dirs. Default: its home. */
  workDir?: string | undefined;
  /**
   * Top-level paths that are symlinks on the host, with their targets (merged /usr: /bin → usr/bin).
   * Bound as symlinks: binding them would mount the target twice and break tools that compare paths.
   */
  symlinks: ReadonlyMap<string, string>;
}

/**
 * The bwrap arguments before the command, ending in `--`. The environment is not cleared here: the
 * spawn already passes only the child's given env, and `--setenv` would put its values (tokens, keys)
 * in argv, which every local user can read from /proc.
 */
/**
 * Whether the host's `path` is the same file inside the view (system dirs, the /etc files, what the
 * server was shown, a carried file), not masked. The private /tmp, /proc, /dev and home are not the host's.
 */
export function isHostPathVisible(view: Pick<BwrapView, 'readOnly' | 'writable' | 'masked' | 'files'>, path: string): boolean {
  const isUnder = (dir: string): boolean => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
  if ((view.masked ?? []).some((m) => isUnder(m.path))) return false;
  const shown = [...SYSTEM_DIRS, ...ETC_FILES, ...(view.readOnly ?? []), ...(view.writable ?? []), ...(view.files ?? []).map((f) => f.target)];
  return shown.some(isUnder);
}

export function bwrapArgs(view: BwrapView): string[] {
  const args: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    const target = view.symlinks.get(dir);
    if (target !== undefined) args.push('--symlink', target, dir);
    else args.push('--ro-bind-try', dir, dir);
  }
  for (const file of ETC_FILES) args.push('--ro-bind-try', file, file);
  // The private /tmp first: a server installed under /tmp (a checkout there, say) is bound over it below.
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  for (const path of view.readOnly ?? []) args.push('--ro-bind', path, path);
  for (const path of view.writable ?? []) args.push('--bind', path, path);
  // After the binds that hold them: a later mount over a path hides what an earlier one showed there.
  for (const { path, isDir } of view.masked ?? []) args.push(...(isDir ? ['--tmpfs', path] : ['--ro-bind', '/dev/null', path]));
  const workDir = view.workDir ?? SANDBOX_HOME;
  args.push('--bind', view.home, SANDBOX_HOME);
  // Last: a carried file lands in the home or over a system dir's copy, which the binds above made.
  for (const { source, target } of view.files ?? []) args.push('--ro-bind', source, target);
  args.push(
    '--chdir', workDir,
    '--setenv', 'HOME', SANDBOX_HOME,
    // sh exports the host's working directory as PWD; inside, the process starts in workDir.
    '--setenv', 'PWD', workDir,
    '--setenv', 'TMPDIR', '/tmp',
    '--unshare-all',
  );
  if (!view.isNetworkOff) args.push('--share-net');
  args.push(
    // As root, a sandbox that keeps its capabilities can remount / read-write or load modules.
    '--cap-drop', 'ALL',
    '--die-with-parent',
    // A new session: the child cannot push keystrokes into a terminal the proxy was started from.
    '--new-session',
    '--',
  );
  return args;
}
