/** Counters and gauges of the proxy, rendered in the Prometheus text format for GET /metrics. */

const DURATION_BUCKETS_S = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 300];

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** A method name as a label: bounded so a client inventing names cannot grow the series without limit. */
function methodLabel(method: string): string {
  return /^[a-z]+(?:\/[a-zA-Z_]+){0,2}$/.test(method) && method.length <= 64 ? method : 'other';
}

export class Metrics {
  #requests = new Map<string, { labels: Labels; count: number }>();
  #buckets = new Array<number>(DURATION_BUCKETS_S.length).fill(0);
  #durationSum = 0;
  #durationCount = 0;
  childRestarts = 0;
  bytesIn = 0;
  bytesOut = 0;

  /** One finished request: `outcome` is `result` or `error`. */
  requestDone(method: string, outcome: 'result' | 'error', durationMs: number): void {
    const labels = { method: methodLabel(method), outcome };
    const key = `${labels.method} ${outcome}`;
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
  render(gauges: { sessions: Record<string, number>; children: number; pending: number }): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    metric('mcpproxy_sessions', 'gauge', 'Open client sessions by transport.');
    for (const [transport, count] of Object.entries(gauges.sessions)) lines.push(`mcpproxy_sessions${labelText({ transport })} ${count}`);
    metric('mcpproxy_children', 'gauge', 'Running child processes.');
    lines.push(`mcpproxy_children ${gauges.children}`);
    metric('mcpproxy_pending_requests', 'gauge', 'Requests waiting for the child.');
    lines.push(`mcpproxy_pending_requests ${gauges.pending}`);
    metric('mcpproxy_child_restarts_total', 'counter', 'Times a shared child was restarted after it exited.');
    lines.push(`mcpproxy_child_restarts_total ${this.childRestarts}`);
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
    return lines.join('\n') + '\n';
  }
}
