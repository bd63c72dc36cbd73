/**
 * The `/bin/sh` wrapper every sandboxed child starts as: it joins its cgroup, sets its rlimits, then
 * execs the real command (behind setpriv and bwrap when planned). Joining first means not one
 * instruction of the server runs outside its limits, and exec keeps the pid the proxy spawned.
 * Pure: builds argv; all values travel as positional parameters, never spliced into the script.
 */

/**
 * $1 cgroup.procs path or "", $2 RLIMIT_NOFILE or "", $3 RLIMIT_CPU seconds or "", then the command.
 * `ulimit -n` without -S/-H sets soft and hard, so the server cannot raise it back. The CPU hard limit
 * is one second above the soft one: at equal limits the kernel sends SIGKILL, which says nothing,
 * instead of SIGXCPU, which names the limit (soft goes first, as a soft limit above the hard one is
 * refused). Exit 126 (the shell's "cannot execute") and a stderr line, which the proxy relays, if a
 * step fails.
 */
export const WRAPPER_SCRIPT = [
  'fail() { echo "mcpproxy sandbox: $1" >&2; exit 126; }',
  'if [ -n "$1" ]; then echo $$ > "$1" || fail "cannot join cgroup $1"; fi',
  'if [ -n "$2" ]; then ulimit -n "$2" || fail "cannot set open files limit $2"; fi',
  'if [ -n "$3" ]; then ulimit -St "$3" && ulimit -Ht $(($3 + 1)) || fail "cannot set CPU seconds limit $3"; fi',
  'shift 3',
  'exec "$@"',
].join('\n');

export interface WrapperInput {
  /** The child cgroup's cgroup.procs; undefined: no cgroup. */
  procsFile?: string | undefined;
  nofile?: number | undefined;
  cpuSeconds?: number | undefined;
  /** Argument vectors placed before the command, outermost first (setpriv, then bwrap). */
  prefixes?: ReadonlyArray<readonly string[]>;
}

/** The shell and its arguments that run `command args` inside the given limits. */
export function wrapCommand(input: WrapperInput, command: string, args: readonly string[]): { command: string; args: string[] } {
  return {
    command: '/bin/sh',
    args: [
      '-c', WRAPPER_SCRIPT,
      'mcpproxy-sandbox', // $0: how the wrapper shows in ps until it execs
      input.procsFile ?? '',
      input.nofile === undefined ? '' : String(input.nofile),
      input.cpuSeconds === undefined ? '' : String(input.cpuSeconds),
      ...(input.prefixes ?? []).flat(),
      command,
      ...args,
    ],
  };
}
