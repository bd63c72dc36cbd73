/** What the handlers of one endpoint share: configuration, logger, metrics, its backend and its session table. */
import type { Backend } from '../servers/contract.ts';
import type { Config } from '../config/config.ts';
import type { Heartbeat } from '../http/sse-writer.ts';
import type { RequestEnv } from '../http/request-env.ts';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { SessionTable } from './sessions.ts';
import type { GatedBackend } from './gated-backend.ts';
import type { Identity } from '../identity/identity.ts';

export interface ProxyContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  /** The server (or aggregate) itself: readiness, counts, failing calls at shutdown. */
  backend: Backend;
  /** What sessions open, send to and close: the backend through identity's gate. */
  gated: GatedBackend;
  identity: Identity;
  sessions: SessionTable;
  heartbeat: Heartbeat;
  requestEnv: RequestEnv;
  /** Where this endpoint's routes live: '' for /mcp, '/servers/<name>' for one server's. */
  basePath: string;
}
