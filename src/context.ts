/** What every HTTP handler shares: configuration, logger, metrics, the backend and the session table. */
import type { Backend } from './backend.ts';
import type { Config } from './config.ts';
import type { Heartbeat } from './http/sse-writer.ts';
import type { RequestEnv } from './http/request-env.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { SessionTable } from './session.ts';

export interface ProxyContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  backend: Backend;
  sessions: SessionTable;
  heartbeat: Heartbeat;
  requestEnv: RequestEnv;
}
