// The console's script: reads GET status/stream (Server-Sent Events over fetch, so the key travels in a
// header and never in a URL) and draws each snapshot. It only reads: nothing here changes the proxy.
'use strict';

const KEY_STORE = 'mcpproxy.key';
const RETRY_MS = 2000;
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
/** The proxy's URL as this browser reaches it (a path prefix of a reverse proxy included). */
const BASE_URL = new URL('.', location.href).href.replace(/\/$/, '');

let connectRoute;

function authHeaders() {
  const key = sessionStorage.getItem(KEY_STORE);
  return key ? { authorization: `Bearer ${key}` } : {};
}

/** An element with text or child nodes; text is never parsed as HTML (server names and errors are data). */
function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children.map((child) => (child instanceof Node ? child : String(child ?? ''))));
  return node;
}

function row(cells, attrs = {}) {
  const tr = el('tr', '', ...cells.map((cell) => (cell instanceof HTMLElement && cell.tagName === 'TD' ? cell : el('td', '', cell))));
  for (const [name, value] of Object.entries(attrs)) tr.setAttribute(name, value);
  return tr;
}

const num = (value) => el('td', 'num', value ?? '–');
const mib = (bytes) => (bytes === undefined ? '–' : `${(bytes / 1048576).toFixed(1)} MiB`);
function duration(s) {
  if (s === undefined || s === null) return '–';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function definitions(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([term, value]) => [el('dt', '', term), el('dd', '', value)]));
}

/** A sparkline of `values` (undefined: no data in that slot), scaled to its own maximum. */
function sparkline(values, className) {
  const width = 120, height = 24;
  const max = Math.max(1e-9, ...values.map((v) => v ?? 0));
  const step = width / Math.max(1, values.length - 1);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', `spark ${className}`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - ((v ?? 0) / max) * (height - 2)).toFixed(1)}`).join(' '));
  svg.append(line);
  return el('td', '', svg);
}

function renderServers(status) {
  $('servers').tBodies[0].replaceChildren(...status.servers.map((s) => {
    const sessions = s.sessions ? Object.values(s.sessions).reduce((a, b) => a + b, 0) : 0;
    return row([
      s.name, el('td', `state state-${s.state}`, s.state), s.replicas ? `${s.mode} × ${s.replicas.length} replicas` : s.mode,
      duration(s.upS), num(s.restarts),
      el('td', 'num', s.children, s.pids.length ? ` (${s.pids.join(', ')})` : ''),
      num(s.counts?.tools), num(s.counts?.prompts), num(s.counts?.resources), num(sessions),
      el('td', 'message error', s.lastError ?? '', stderrTail(s.stderr)),
    ], { 'data-server': s.name, 'data-state': s.state });
  }));
}

/** A server's last stderr lines (masked by the proxy), folded: what a child that fails to start said. */
function stderrTail(lines) {
  if (!lines || lines.length === 0) return '';
  return el('details', 'stderr', el('summary', '', `stderr (last ${lines.length} lines)`), el('pre', '', lines.join('\n')));
}

function renderSessions(sessions) {
  const pairs = [['total', sessions.total]];
  for (const [transport, count] of Object.entries(sessions.byTransport)) pairs.push([transport, count]);
  for (const [era, count] of Object.entries(sessions.byEra)) pairs.push([`era ${era}`, count]);
  pairs.push(['oldest idle', duration(sessions.oldestIdleS)]);
  for (const p of sessions.principals) pairs.push([`${p.kind} ${p.principal}`, p.sessions]);
  definitions($('sessions'), pairs);
  $('sessions').dataset.total = sessions.total;
}

function renderCalls(calls) {
  $('calls-window').textContent = `last ${Math.round((calls.servers[0]?.points.length ?? 0) * calls.slotS / 60)} min, ${calls.slotS} s slots`;
  $('calls').tBodies[0].replaceChildren(...calls.servers.map(({ server, points }) => {
    const last = points.at(-1);
    const rates = points.map((p) => p.count / calls.slotS);
    return row([
      server, num((last.count / calls.slotS).toFixed(2)), sparkline(rates, 'rate'),
      num(last.p50Ms === undefined ? undefined : `${last.p50Ms} ms`), num(last.p99Ms === undefined ? undefined : `${last.p99Ms} ms`),
      sparkline(points.map((p) => p.p99Ms), 'latency'), num(points.reduce((sum, p) => sum + p.errors, 0)),
    ], { 'data-server': server });
  }));
}

function render(status) {
  $('version').textContent = `v${status.version} · up ${duration(status.uptimeS)}`;
  const live = $('live');
  live.textContent = `live · ${new Date(status.timeMs).toLocaleTimeString()}`;
  live.className = 'live on';
  renderServers(status);
  const p = status.proxy;
  definitions($('proxy'), [['pid', p.pid], ['RSS', mib(p.rssBytes)], ['heap', mib(p.heapUsedBytes)], ['open files', p.openFiles ?? '–'],
    ['event-loop delay', `p50 ${p.eventLoopDelayMs.p50} ms · p99 ${p.eventLoopDelayMs.p99} ms · max ${p.eventLoopDelayMs.max} ms`]]);
  renderSessions(status.sessions);
  $('children').tBodies[0].replaceChildren(...status.children.map((c) => row([
    num(c.pid), c.server, c.principal ?? c.session ?? 'shared', num(c.cpuPercent ?? '–'), num(mib(c.rssBytes)), num(duration(c.ageS)),
  ], { 'data-pid': c.pid })));
  renderCalls(status.calls);
  $('errors').tBodies[0].replaceChildren(...status.errors.map((e) => row([
    new Date(e.timeMs).toLocaleTimeString(), e.server, e.method, el('td', 'message', e.message),
  ])));
  renderRoutes(status.servers.map((s) => s.name), status.aggregate !== undefined);
}

function renderRoutes(names, isAggregate) {
  const select = $('route');
  const wanted = ['', ...(isAggregate ? names : [])];
  if (select.options.length === wanted.length && [...select.options].every((o, i) => o.value === wanted[i])) return;
  select.replaceChildren(...wanted.map((name) => {
    const option = el('option', '', name === '' ? (isAggregate ? 'all servers (/mcp)' : '/mcp') : `${name} (/servers/${name}/mcp)`);
    option.value = name;
    return option;
  }));
  if (wanted.includes(connectRoute)) select.value = connectRoute;
  void showSnippets();
}

async function showSnippets() {
  connectRoute = $('route').value;
  const query = new URLSearchParams({ url: BASE_URL });
  if (connectRoute) query.set('server', connectRoute);
  const res = await fetch(`console/connect?${query}`, { headers: authHeaders(), cache: 'no-store' });
  if (!res.ok) return;
  const { snippets } = await res.json();
  $('snippets').replaceChildren(...snippets.map((s) => {
    const copy = el('button', '', 'copy');
    copy.type = 'button';
    copy.addEventListener('click', () => void navigator.clipboard?.writeText(s.text));
    const block = el('div', 'snippet', el('div', 'snippet-head', el('h3', '', s.title), el('small', '', s.where), copy), el('pre', '', el('code', '', s.text)));
    block.dataset.client = s.client;
    return block;
  }));
}

function askForKey(message) {
  sessionStorage.removeItem(KEY_STORE);
  $('main').hidden = true;
  $('key-form').hidden = false;
  $('key-error').textContent = message;
  $('key').focus();
}

/** Reads the stream until it ends, then tries again; a refused key brings the prompt back. */
async function watch() {
  let res;
  try {
    res = await fetch('status/stream', { headers: { ...authHeaders(), accept: 'text/event-stream' }, cache: 'no-store' });
  } catch {
    return reconnect();
  }
  if (res.status === 401) return askForKey(sessionStorage.getItem(KEY_STORE) ? 'That key was refused.' : '');
  if (!res.ok || !res.body) return reconnect();
  $('key-form').hidden = true;
  $('main').hidden = false;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  // A line buffer: an event may arrive split over several chunks, or several in one.
  let buffer = '', event = 'message', data = [];
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch {
      break;
    }
    if (chunk.done) break;
    buffer += chunk.value;
    let end;
    while ((end = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      if (line === '') {
        if (event === 'status' && data.length > 0) render(JSON.parse(data.join('\n')));
        event = 'message';
        data = [];
      } else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
  reconnect();
}

function reconnect() {
  $('live').textContent = 'disconnected; retrying…';
  $('live').className = 'live';
  setTimeout(() => void watch(), RETRY_MS);
}

$('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY_STORE, $('key').value);
  $('key').value = '';
  void watch();
});
$('route').addEventListener('change', () => void showSnippets());
if (document.body.dataset.key === 'required' && !sessionStorage.getItem(KEY_STORE)) askForKey('');
else void watch();
