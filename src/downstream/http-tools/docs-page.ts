/**
 * `GET docs`: one page, served by the binary, that lists the operations of the document next to it
 * and calls them ("try it"). No framework, no CDN: a few lines of script, all text set with
 * textContent (tool descriptions come from servers), and a CSP that allows only this script and style.
 */
import { createHash } from 'node:crypto';

const STYLE = `body{font:15px system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em}
section{border-top:1px solid #ccc;padding:.5em 0}textarea{width:100%;font:13px monospace;height:5em}
pre{background:#f4f4f4;padding:.5em;overflow:auto;max-height:20em}code{font-weight:bold}`;

// The key comes from the page's own ?auth_key= (how a browser opens a protected page) and is sent as a bearer header.
const SCRIPT = `const key = new URLSearchParams(location.search).get('auth_key');
const auth = key ? { authorization: 'Bearer ' + key } : {};
const el = (tag, text) => { const e = document.createElement(tag); if (text) e.textContent = text; return e; };
fetch('openapi.json', { headers: auth }).then((r) => r.json()).then((doc) => {
  const base = (doc.servers && doc.servers[0].url) || '';
  document.getElementById('title').textContent = doc.info.title;
  for (const [path, item] of Object.entries(doc.paths)) {
    const op = item.post, box = el('section'), body = el('textarea'), out = el('pre'), go = el('button', 'Call');
    box.append(el('code', 'POST ' + base + path), el('p', op.summary || ''), el('p', op.description || ''), body, go, out);
    body.value = '{}';
    go.onclick = async () => {
      out.textContent = '…';
      const r = await fetch(base + path, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: body.value });
      out.textContent = r.status + '\\n' + JSON.stringify(await r.json(), null, 2);
    };
    document.body.append(box);
  }
}).catch((err) => { document.body.append(el('pre', String(err))); });`;

export const DOCS_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>mcpproxy tools</title>
<style>${STYLE}</style></head><body><h1 id="title">tools</h1>
<p>Each tool is <code>POST</code> with a JSON object of its arguments; <a href="openapi.json">openapi.json</a> describes them.</p>
<script>${SCRIPT}</script></body></html>`;

const hashOf = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

export const DOCS_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-cache',
  'content-security-policy': `default-src 'none'; connect-src 'self'; script-src ${hashOf(SCRIPT)}; style-src ${hashOf(STYLE)}`,
};
