/**
 * What this host lets the sandbox use, found out once at start: a writable cgroup v2 subtree and its
 * controllers, a working bubblewrap, setpriv for dropping root, and whether we are root at all.
 * Each part that is missing carries the reason, so `auto` can log it and `strict` can refuse with it.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { basename, join } from 'node:path';

export type Found<T> = ({ ok: true } & T) | { ok: false; reason: string };

export interface HostProbe {
  isRoot: boolean;
  /** This process's own cgroup v2 directory, where a test child cgroup could be made. */
  cgroup: Found<{ dir: string; controllers: string[]; isHierarchyRoot: boolean }>;
  bwrap: Found<{ path: string }>;
  setpriv: Found<{ path: string }>;
  /** The resolved --sandbox-user, when one was given. */
  user: Found<{ uid: number; gid: number; name: string }> | undefined;
}

export interface ProbeOptions {
  user?: string | undefined;
  /** Where to look for files the probe reads; tests point these at fakes. */
  mountinfoPath?: string;
  selfCgroupPath?: string;
  passwdPath?: string;
}

/** Generous: a loaded or emulated host (QEMU without KVM) took over 5 s to start bwrap once. */
const PROBE_TIMEOUT_MS = 30_000;

export async function probeHost(opts: ProbeOptions = {}): Promise<HostProbe> {
  const isRoot = process.getuid?.() === 0;
  const user = opts.user === undefined ? undefined : resolveUser(opts.user, readOr(opts.passwdPath ?? '/etc/passwd', ''));
  const setpriv = await runs(findExecutable('setpriv'), ['--version']);
  // The bwrap probe uses the options a child gets: a host that allows bwrap but not every namespace
  // (Docker's seccomp profile, Ubuntu's AppArmor userns rule) must say so now, not at the first spawn.
  // With a sandbox user it runs as that user, since unprivileged bwrap is what the child will get.
  const bwrapPath = findExecutable('bwrap');
  const bwrapProbe = ['--ro-bind', '/', '/', '--unshare-all', '--cap-drop', 'ALL', '--die-with-parent', '--new-session', 'true'];
  const bwrap = user?.ok === true && setpriv.ok
    ? await runs(bwrapPath, bwrapProbe, [setpriv.path, ...dropArgs(user)])
    : await runs(bwrapPath, bwrapProbe);
  return {
    isRoot,
    cgroup: probeCgroup(readOr(opts.mountinfoPath ?? '/proc/self/mountinfo', ''), readOr(opts.selfCgroupPath ?? '/proc/self/cgroup', '')),
    bwrap,
    setpriv,
    user,
  };
}

/** setpriv arguments that become `user` for good: real, effective and saved ids, no extra groups. */
export function dropArgs(user: { uid: number; gid: number }): string[] {
  return [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--'];
}

/** The cgroup2 mount point from /proc/self/mountinfo text (field 5 is the mount point, after " - " the type). */
export function cgroup2Mount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.split(' ')[0] === 'cgroup2') return left!.split(' ')[4];
  }
  return undefined;
}

function probeCgroup(mountinfo: string, selfCgroup: string): HostProbe['cgroup'] {
  const mount = cgroup2Mount(mountinfo);
  if (mount === undefined) return { ok: false, reason: 'no cgroup v2 mount (cgroup v1 only, or not Linux)' };
  // "0::/path" is this process's place in the v2 hierarchy, relative to the mount.
  const own = /^0::(\/.*)$/m.exec(selfCgroup)?.[1];
  if (own === undefined) return { ok: false, reason: 'this process has no cgroup v2 path' };
  const dir = own === '/' ? mount : join(mount, own);
  const testDir = join(dir, `mcpproxy-probe-${process.pid}`);
  try {
    mkdirSync(testDir);
    rmdirSync(testDir);
  } catch (err) {
    return { ok: false, reason: `cgroup ${dir} is not writable (${(err as NodeJS.ErrnoException).code}); delegate it (systemd Delegate=yes)` };
  }
  const controllers = readOr(join(dir, 'cgroup.controllers'), '').trim().split(/\s+/).filter((c) => c !== '');
  return { ok: true, dir, controllers, isHierarchyRoot: own === '/' };
}

/** A user name or uid against /etc/passwd text (name:x:uid:gid:...). */
export function resolveUser(user: string, passwd: string): NonNullable<HostProbe['user']> {
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (name === user || uid === user) return { ok: true, name, uid: Number(uid), gid: Number(gid) };
  }
  return { ok: false, reason: `--sandbox-user ${user} is not in /etc/passwd` };
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** The absolute path of `name` on PATH, or the bare name (whose run then fails with ENOENT). */
function findExecutable(name: string): string {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return name;
}

/** Runs `path args` (behind `prefix` if given); ok with the absolute path when it exits 0 within the bound. */
function runs(path: string, args: string[], prefix: string[] = []): Promise<Found<{ path: string }>> {
  const name = basename(path);
  if (!path.startsWith('/')) return Promise.resolve({ ok: false, reason: `${name} is not installed` });
  const [command, ...rest] = [...prefix, path, ...args];
  return new Promise((resolve) => {
    execFile(command!, rest, { timeout: PROBE_TIMEOUT_MS, env: {} }, (err, _out, stderr) => {
      if (err === null) return resolve({ ok: true, path });
      if (err.killed) return resolve({ ok: false, reason: `${name} did not finish within ${PROBE_TIMEOUT_MS / 1000} s` });
      const said = stderr.trim().split('\n')[0] ?? '';
      resolve({ ok: false, reason: `${name} does not work here${said === '' ? ` (${err.message.trim()})` : `: ${said}`}` });
    });
  });
}
