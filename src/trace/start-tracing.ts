/** Turns tracing on for the process: the exporter, the tracer wired to it, and its secrets kept out of logs. */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observe/log.ts';
import { SpanExporter } from './exporter.ts';
import type { TraceConfig } from './trace-config.ts';
import { tracing } from './tracer.ts';

export function startTracing(config: TraceConfig, log: Logger, version: string): SpanExporter {
  for (const value of Object.values(config.headers)) log.addSecret(value);
  const exporter = new SpanExporter({
    url: config.url, headers: config.headers, maxQueue: config.maxQueue, batchSize: config.batchSize,
    delayMs: config.delayMs, timeoutMs: config.timeoutMs, log,
    source: {
      resource: {
        'service.version': version, 'service.instance.id': randomUUID(), 'host.name': hostname(), 'process.pid': process.pid,
        'process.runtime.name': 'nodejs', 'process.runtime.version': process.versions.node,
        'telemetry.sdk.name': 'mcpproxy', 'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.version': version,
        ...config.resource,
      },
      scope: { name: 'mcpproxy', version },
    },
  });
  tracing.configure({ sampler: config.sampler, recordsEnduser: config.recordsEnduser, onEnd: (span) => exporter.add(span) });
  log.info('tracing on', { endpoint: config.url.origin + config.url.pathname, service: config.resource['service.name'] });
  return exporter;
}
