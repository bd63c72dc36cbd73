/** MCP logging levels (syslog severities), least severe first. */
export const MCP_LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type McpLogLevel = (typeof MCP_LOG_LEVELS)[number];

export function isLogLevel(value: unknown): value is McpLogLevel {
  return (MCP_LOG_LEVELS as readonly unknown[]).includes(value);
}
