/** Counters and gauges of the proxy, rendered in the Prometheus text format for GET /metrics. */
import { CallWindow } from './call-window.ts';
import { MCP_REQUEST_METHODS } from '../protocol/methods.ts';

const DURATION_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 300];

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** A method name as a label: only MCP's own, so a client inventing names adds one `other` series, not one per name. */
function methodLabel(method: string): string {
  return MCP_REQUEST_METHODS.has(method) ? method : 'other';
}

/** What one route or server contributes at scrape time (the aggregate route has sessions only). */
export interface ServerGauges {
  server: string;
  sessions: Record<string, number>;
  children?: number;
  pending?: number;
  isUp?: boolean;
  /** A replica pool's members. */
  replicas?: Array<{ replica: number; sessions: number; inFlight: number; restarts: number; up: boolean }> | undefined;
  /** Summed over the server's running children (cgroup files, else a /proc scan). */
  usage?: { cpuSeconds: number; rssBytes: number };
}

type ReplicaGauge = NonNullable<ServerGauges['replicas']>[number];
/** One series per pool replica: name, type, help, value. */
const REPLICA_SERIES: Array<[string, string, string, (r: ReplicaGauge) => number]> = [
  ['mcpproxy_replica_up', 'gauge', 'A pool replica: 1 while its child serves.', (r) => (r.up ? 1 : 0)],
  ['mcpproxy_replica_sessions', 'gauge', 'Sessions whose home is this pool replica.', (r) => r.sessions],
  ['mcpproxy_replica_in_flight', 'gauge', 'Calls in flight on this pool replica.', (r) => r.inFlight],
  ['mcpproxy_replica_restarts_total', 'counter', 'Times this pool replica was restarted.', (r) => r.restarts],
];

export class Metrics {
  #requests = new Map<string, { labels: Labels; count: number }>();
  #buckets = new Array<number>(DURATION_BUCKETS_S.length).fill(0);
  #durationSum = 0;
  #durationCount = 0;
  #restarts = new Map<string, number>();
  #breaches = new Map<string, { labels: Labels; count: number }>();
  bytesIn = 0;
  bytesOut = 0;
  /** Read at scrape time from the audit log, when there is one. */
  auditDropped: () => number | undefined = () => undefined;
  /** Read at scrape time from the span exporter, when tracing is on. */
  traceSpans: () => { exported: number; dropped: Record<string, number> } | undefined = () => undefined;
  /** Requests answered 429 by the per-principal rate limit. */
  rateLimited = 0;
  #cut = new Map<string, number>();
  /** The last minutes of calls per server, for the console and /status. */
  readonly calls = new CallWindow();

  childRestarted(server: string): void {
    this.#restarts.set(server, (this.#restarts.get(server) ?? 0) + 1);
  }

  /** A child stopped by a sandbox limit (`memory`, `cpuSeconds`, `lifetime`). */
  childLimitBreached(server: string, limit: string): void {
    const key = `${server} ${limit}`;
    const entry = this.#breaches.get(key);
    if (entry === undefined) this.#breaches.set(key, { labels: { server, limit }, count: 1 });
    else entry.count++;
  }

  /** A response destroyed because its client did not read it (`unsent-bytes`, `write-timeout`). */
  responseCut(reason: string): void {
    this.#cut.set(reason, (this.#cut.get(reason) ?? 0) + 1);
  }

  /** Times `server`'s shared child was restarted since the proxy started. */
  restartsOf(server: string): number {
    return this.#restarts.get(server) ?? 0;
  }

  /** One finished request: `outcome` is `result` or `error`; `errorMessage` (free of secrets) goes to the last-errors list. */
  requestDone(server: string, method: string, outcome: 'result' | 'error', durationMs: number, errorMessage?: string): void {
    this.calls.record(server, method, durationMs, outcome === 'error' ? errorMessage ?? 'error' : undefined, Date.now());
    const labels = { server, method: methodLabel(method), outcome };
    const key = `${server} ${labels.method} ${outcome}`;
    const entry = this.#requests.get(key);
    if (entry === undefined) this.#requests.set(key, { labels, count: 1 });
    else entry.count++;
    const seconds = durationMs / 1000;
    this.#durationSum += seconds;
    this.#durationCount++;
    for (let i = 0; i < DURATION_BUCKETS_S.length; i++) {
      if (seconds <= DURATION_BUCKETS_S[i]!) this.#buckets[i]!++;
    }
  }

  /** The text exposition; `gauges` are read at scrape time from the parts that own them. */
  render(gauges: ServerGauges[]): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    metric('mcpproxy_sessions', 'gauge', 'Open client sessions by server route and transport.');
    for (const { server, sessions } of gauges) {
      for (const [transport, count] of Object.entries(sessions)) lines.push(`mcpproxy_sessions${labelText({ server, transport })} ${count}`);
    }
    metric('mcpproxy_children', 'gauge', 'Running child processes by server.');
    for (const { server, children } of gauges) if (children !== undefined) lines.push(`mcpproxy_children${labelText({ server })} ${children}`);
    metric('mcpproxy_pending_requests', 'gauge', 'Requests waiting for a child, by server.');
    for (const { server, pending } of gauges) if (pending !== undefined) lines.push(`mcpproxy_pending_requests${labelText({ server })} ${pending}`);
    metric('mcpproxy_server_up', 'gauge', '1 when the server can serve (ready or sleeping), 0 otherwise.');
    for (const { server, isUp } of gauges) if (isUp !== undefined) lines.push(`mcpproxy_server_up${labelText({ server })} ${isUp ? 1 : 0}`);
    for (const [name, type, help, value] of REPLICA_SERIES) {
      metric(name, type, help);
      for (const { server, replicas } of gauges) for (const r of replicas ?? []) lines.push(`${name}${labelText({ server, replica: String(r.replica) })} ${value(r)}`);
    }
    metric('mcpproxy_child_restarts_total', 'counter', 'Times a shared child was restarted after it exited.');
    for (const { server, isUp } of gauges) if (isUp !== undefined) lines.push(`mcpproxy_child_restarts_total${labelText({ server })} ${this.#restarts.get(server) ?? 0}`);
    metric('mcpproxy_child_limit_breaches_total', 'counter', 'Children stopped by a sandbox limit, by server and limit.');
    for (const { labels, count } of this.#breaches.values()) lines.push(`mcpproxy_child_limit_breaches_total${labelText(labels)} ${count}`);
    metric('mcpproxy_child_cpu_seconds', 'gauge', 'CPU seconds used so far by the running children of a server.');
    for (const { server, usage } of gauges) if (usage !== undefined) lines.push(`mcpproxy_child_cpu_seconds${labelText({ server })} ${usage.cpuSeconds}`);
    metric('mcpproxy_child_memory_bytes', 'gauge', 'Resident memory of the running children of a server (cgroup memory.current, else RSS).');
    for (const { server, usage } of gauges) if (usage !== undefined) lines.push(`mcpproxy_child_memory_bytes${labelText({ server })} ${usage.rssBytes}`);
    metric('mcpproxy_requests_total', 'counter', 'Client requests answered, by method and outcome.');
    for (const { labels, count } of this.#requests.values()) lines.push(`mcpproxy_requests_total${labelText(labels)} ${count}`);
    metric('mcpproxy_request_duration_seconds', 'histogram', 'Time from a client request to its answer.');
    DURATION_BUCKETS_S.forEach((le, i) => lines.push(`mcpproxy_request_duration_seconds_bucket{le="${le}"} ${this.#buckets[i]}`));
    lines.push(`mcpproxy_request_duration_seconds_bucket{le="+Inf"} ${this.#durationCount}`);
    lines.push(`mcpproxy_request_duration_seconds_sum ${this.#durationSum}`);
    lines.push(`mcpproxy_request_duration_seconds_count ${this.#durationCount}`);
    metric('mcpproxy_received_bytes_total', 'counter', 'HTTP request body bytes received from clients.');
    lines.push(`mcpproxy_received_bytes_total ${this.bytesIn}`);
    metric('mcpproxy_sent_bytes_total', 'counter', 'Message bytes sent to clients.');
    lines.push(`mcpproxy_sent_bytes_total ${this.bytesOut}`);
    metric('mcpproxy_responses_cut_total', 'counter', 'Responses destroyed because the client did not read them, by reason.');
    for (const [reason, count] of this.#cut) lines.push(`mcpproxy_responses_cut_total${labelText({ reason })} ${count}`);
    metric('mcpproxy_rate_limited_total', 'counter', 'Requests refused with 429 by the per-principal rate limit.');
    lines.push(`mcpproxy_rate_limited_total ${this.rateLimited}`);
    const dropped = this.auditDropped();
    if (dropped !== undefined) {
      metric('mcpproxy_audit_dropped_total', 'counter', 'Audit lines dropped because the audit sink did not keep up.');
      lines.push(`mcpproxy_audit_dropped_total ${dropped}`);
    }
    const spans = this.traceSpans();
    if (spans !== undefined) {
      metric('mcpproxy_trace_spans_exported_total', 'counter', 'Spans the OTLP collector accepted.');
      lines.push(`mcpproxy_trace_spans_exported_total ${spans.exported}`);
      metric('mcpproxy_trace_spans_dropped_total', 'counter', 'Spans dropped: the queue was full (queue_full) or the collector failed or timed out (export_failed).');
      for (const [reason, count] of Object.entries(spans.dropped)) lines.push(`mcpproxy_trace_spans_dropped_total${labelText({ reason })} ${count}`);
    }
    return lines.join('\n') + '\n';
  }
}
