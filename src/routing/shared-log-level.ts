/**
 * One log level for a shared child (`logging/setLevel` is per connection): the most verbose level any
 * session asked for, with each session's `notifications/message` filtered to its own level.
 */
import { isLogLevel, MCP_LOG_LEVELS, type McpLogLevel } from '../protocol/log-levels.ts';

export class SharedLogLevel {
  #bySession = new Map<string, McpLogLevel>();
  #childLevel: McpLogLevel | undefined;

  /** The level the child was last set to, if any. */
  get childLevel(): McpLogLevel | undefined {
    return this.#childLevel;
  }

  /** Records a session's level; returns the level the child must now be set to, or undefined if unchanged. */
  set(sessionId: string, level: McpLogLevel): McpLogLevel | undefined {
    this.#bySession.set(sessionId, level);
    let lowest = MCP_LOG_LEVELS.length - 1;
    for (const chosen of this.#bySession.values()) lowest = Math.min(lowest, MCP_LOG_LEVELS.indexOf(chosen));
    const childLevel = MCP_LOG_LEVELS[lowest]!;
    if (childLevel === this.#childLevel) return undefined;
    this.#childLevel = childLevel;
    return childLevel;
  }

  /** Whether a message at `level` reaches the session (sessions that chose no level get everything). */
  allows(sessionId: string, level: unknown): boolean {
    const chosen = this.#bySession.get(sessionId);
    if (chosen === undefined || !isLogLevel(level)) return true;
    return MCP_LOG_LEVELS.indexOf(level) >= MCP_LOG_LEVELS.indexOf(chosen);
  }

  /** The session left; the child keeps its level (lowering it again would need another round trip per leave). */
  dropSession(sessionId: string): void {
    this.#bySession.delete(sessionId);
  }
}
