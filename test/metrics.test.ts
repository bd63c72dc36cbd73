import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../src/observe/metrics.ts';

test('only MCP methods are labels: 2,000 invented names are one "other" series', () => {
  const metrics = new Metrics();
  for (let i = 0; i < 2_000; i++) metrics.requestDone('s', `made/up${'abcdefghij'[i % 10]}${'abcdefghij'[Math.floor(i / 10) % 10]}${'abcdefghij'[Math.floor(i / 100) % 10]}x${'abcdefghij'[Math.floor(i / 1000)]}`, 'error', 1, 'no');
  metrics.requestDone('s', 'tools/call', 'result', 1);
  metrics.requestDone('s', 'resources/templates/list', 'result', 1);
  const series = metrics.render([]).split('\n').filter((line) => line.startsWith('mcpproxy_requests_total{'));
  assert.deepEqual(series.sort(), [
    'mcpproxy_requests_total{server="s",method="other",outcome="error"} 2000',
    'mcpproxy_requests_total{server="s",method="resources/templates/list",outcome="result"} 1',
    'mcpproxy_requests_total{server="s",method="tools/call",outcome="result"} 1',
  ]);
});
