// What a server's children see (src/servers/sandbox-view.ts) for each install layout, the credentials
// taken out of carried configuration (src/upstream/sandbox/credentials.ts), which configuration files
// are carried where (src/servers/package-config.ts), and the hidden-path diagnosis (hidden-path.ts).
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseCommandLine } from '../src/cli.ts';
import type { Config } from '../src/config/config.ts';
import type { ServerSpec } from '../src/config/server-spec.ts';
import { packageConfigFiles, referencedPaths, writeCarried } from '../src/servers/package-config.ts';
import { sandboxView } from '../src/servers/sandbox-view.ts';
import { bwrapArgs, isHostPathVisible } from '../src/upstream/sandbox/bwrap-args.ts';
import { isCredentialVariable, sanitizeConfigText, stripUrlCredentials } from '../src/upstream/sandbox/credentials.ts';
import { hiddenPathIn } from '../src/upstream/sandbox/hidden-path.ts';

function tempDir(t: TestContext): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpproxy-view-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function spec(command: string, args: string[] = []): ServerSpec {
  const c = parseCommandLine(['--host', '127.0.0.1', '--', 'x'], {}, () => {}, () => {});
  assert.equal(c.kind, 'run');
  return { ...(c as { config: Config }).config.servers[0]!, command, args };
}

/** Writes `files` (path → content; a trailing "@x" makes it executable) under `dir`. */
function layout(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    const [name, mode] = path.split('@') as [string, string | undefined];
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
    if (mode === 'x') chmodSync(join(dir, name), 0o755);
  }
}

test('a package in a hoisted node_modules: the node_modules it resolves from, not the checkout around it', (t) => {
  const dir = tempDir(t);
  layout(dir, { 'app/package.json': '{}', 'app/src/secret.env': '', 'app/node_modules/pkg/package.json': '{}', 'app/node_modules/pkg/dist/index.js': '', 'app/node_modules/dep/index.js': '' });
  const view = sandboxView(spec('node', [join(dir, 'app/node_modules/pkg/dist/index.js')]), [], '/');
  assert.deepEqual(view.readOnly, [join(dir, 'app/node_modules')]);
  // A monorepo: the package's own root and the workspace's hoisted node_modules above it.
  layout(dir, { 'mono/node_modules/dep/index.js': '', 'mono/packages/server/package.json': '{}', 'mono/packages/server/dist/main.js': '' });
  assert.deepEqual(sandboxView(spec('node', [join(dir, 'mono/packages/server/dist/main.js')]), [], '/').readOnly, [join(dir, 'mono/packages/server'), join(dir, 'mono/node_modules')]);
});

test('node_modules/.bin/<server>: the link is exec\'d where it is, since its node_modules is shown', (t) => {
  const dir = tempDir(t);
  layout(dir, { 'app/node_modules/pkg/package.json': '{}', 'app/node_modules/pkg/cli.js@x': '#!/usr/bin/env node\n' });
  mkdirSync(join(dir, 'app/node_modules/.bin'));
  symlinkSync('../pkg/cli.js', join(dir, 'app/node_modules/.bin/server'));
  const view = sandboxView(spec('node_modules/.bin/server'), [], join(dir, 'app'));
  assert.deepEqual(view.readOnly, [join(dir, 'app/node_modules')]);
  assert.equal(view.execPath, join(dir, 'app/node_modules/.bin/server'));
});

test('a venv: its root and its base interpreter\'s prefix (pyvenv.cfg home); a console script through its #! line', (t) => {
  const dir = tempDir(t);
  layout(dir, {
    'pyenv/versions/3.12/bin/python3.12@x': '\x7fELF', 'pyenv/versions/3.12/lib/python3.12/os.py': '',
    'proj/venv/pyvenv.cfg': `home = ${join(dir, 'pyenv/versions/3.12/bin')}\n`,
    'proj/venv/bin/tool@x': `#!${join(dir, 'proj/venv/bin/python')}\nfrom tool import main\n`, 'proj/server.py': '',
  });
  symlinkSync(join(dir, 'pyenv/versions/3.12/bin/python3.12'), join(dir, 'proj/venv/bin/python'));
  const expected = [join(dir, 'proj/venv'), join(dir, 'pyenv/versions/3.12')];
  const python = sandboxView(spec(join(dir, 'proj/venv/bin/python'), [join(dir, 'proj/server.py')]), [], '/');
  assert.deepEqual(python.readOnly.sort(), [...expected, join(dir, 'proj/server.py')].sort());
  assert.equal(python.execPath, join(dir, 'proj/venv/bin/python'), 'by the venv\'s name, or python would not find its venv');
  assert.deepEqual(sandboxView(spec(join(dir, 'proj/venv/bin/tool')), [], '/').readOnly.sort(), expected.sort());
});

test('a symlinked bin runs by its real path; a binary under ~/.local shows itself and lib only; nvm-style prefixes whole', (t) => {
  const dir = tempDir(t);
  layout(dir, {
    'opt/server/server.mjs@x': '#!/usr/bin/env node\n', 'home/.local/bin/uvx@x': '\x7fELF', 'home/.local/lib/x': '', 'home/.local/share/keys': '',
    'nvm/v22/bin/node@x': '\x7fELF', 'nvm/v22/lib/node_modules/pkg/package.json': '{}', 'nvm/v22/lib/node_modules/pkg/cli.js@x': '#!/usr/bin/env node\n',
  });
  mkdirSync(join(dir, 'home/bin'));
  symlinkSync(join(dir, 'opt/server/server.mjs'), join(dir, 'home/bin/server'));
  const linked = sandboxView(spec(join(dir, 'home/bin/server')), [], '/');
  assert.deepEqual(linked.readOnly, [join(dir, 'opt/server/server.mjs')]);
  assert.equal(linked.execPath, join(dir, 'opt/server/server.mjs'));
  assert.deepEqual(sandboxView(spec(join(dir, 'home/.local/bin/uvx')), [], '/').readOnly, [join(dir, 'home/.local/bin/uvx'), join(dir, 'home/.local/lib')]);
  // A global install of nvm's node: the package, the global node_modules, and the node its #! finds on PATH.
  mkdirSync(join(dir, 'nvm/v22/lib/node_modules/.bin'), { recursive: true });
  symlinkSync('../lib/node_modules/pkg/cli.js', join(dir, 'nvm/v22/bin/server'));
  const global = sandboxView({ ...spec('server'), env: { PATH: join(dir, 'nvm/v22/bin') } }, [], '/');
  assert.deepEqual(global.readOnly.sort(), [join(dir, 'nvm/v22')]);
});

test('bwrap: carried files are bound last, read-only; what is visible of the host', () => {
  const view = { home: '/state/homes/x', isNetworkOff: false, readOnly: ['/srv/app'], masked: [{ path: '/srv/app/servers.json', isDir: false }], files: [{ source: '/state/carried/x/0-.npmrc', target: '/home/mcp/.npmrc' }], symlinks: new Map() };
  const args = bwrapArgs(view);
  const home = args.indexOf('/state/homes/x');
  assert.deepEqual(args.slice(home + 2, home + 5), ['--ro-bind', '/state/carried/x/0-.npmrc', '/home/mcp/.npmrc']);
  const table: Array<[string, boolean]> = [['/srv/app/index.js', true], ['/srv/app/servers.json', false], ['/srv/other', false], ['/usr/lib/x', true], ['/etc/ssl/certs/ca.pem', true], ['/etc/shadow', false], ['/tmp/x', false], ['/srvapp', false]];
  for (const [path, visible] of table) assert.equal(isHostPathVisible(view, path), visible, path);
});

test('credentials out of npmrc, pip.conf and uv.toml; settings stay', () => {
  const npmrc = [
    'registry=https://alice:s3cret@npm.corp.example/', '//npm.corp.example/:_authToken=tok', '//npm.corp.example/:_auth = YWxp',
    '//npm.corp.example/:_password=cGFzcw==', '//npm.corp.example/:username=alice', 'email=a@corp.example', 'keyfile=/home/a/key.pem',
    '@corp:registry=https://npm.corp.example/', 'strict-ssl=true', 'cafile=/etc/ssl/corp.pem', '; _authToken=commented',
  ].join('\n');
  assert.equal(sanitizeConfigText(npmrc), [
    'registry=https://npm.corp.example/', 'email=a@corp.example', '@corp:registry=https://npm.corp.example/', 'strict-ssl=true', 'cafile=/etc/ssl/corp.pem', '; _authToken=commented',
  ].join('\n'));
  const pip = '[global]\nindex-url = https://u:p@pypi.corp/simple\nextra-index-url =\n    https://v:q@more.corp/simple\n    https://open.example/simple\nclient-cert = /k.pem\n  /continued\ntimeout: 30\n';
  assert.equal(sanitizeConfigText(pip), '[global]\nindex-url = https://pypi.corp/simple\nextra-index-url =\n    https://more.corp/simple\n    https://open.example/simple\ntimeout: 30\n');
  const uv = '[[index]]\nname = "corp"\nurl = "https://u:p@pypi.corp/simple"\n';
  assert.equal(sanitizeConfigText(uv), '[[index]]\nname = "corp"\nurl = "https://pypi.corp/simple"\n');
  assert.equal(stripUrlCredentials('http://user:pw@proxy:3128 and https://x@y/'), 'http://proxy:3128 and https://y/');
  for (const name of ['npm_config__authToken', 'npm_config__auth', 'NPM_CONFIG__PASSWORD', 'npm_config_//r/:_authToken', 'UV_INDEX_CORP_PASSWORD', 'UV_PUBLISH_TOKEN', 'PIP_CLIENT_CERT', 'npm_config_keyfile']) {
    assert.equal(isCredentialVariable(name), true, name);
  }
  for (const name of ['npm_config_registry', 'PIP_INDEX_URL', 'UV_CACHE_DIR', 'npm_config_cafile', 'PIP_DEFAULT_TIMEOUT']) assert.equal(isCredentialVariable(name), false, name);
});

test('configuration carried: user files under the sandbox home, system-wide and variable-named ones at their own path', (t) => {
  const dir = tempDir(t);
  layout(dir, { 'home/.npmrc': 'x', 'home/.config/pip/pip.conf': 'x', 'home/.config/uv/uv.toml': 'x', 'xdg/pip/pip.conf': 'x', 'node/bin/node@x': '', 'node/etc/npmrc': 'x', 'elsewhere/pip.conf': 'x', 'venv/pip.conf': 'x' });
  const files = packageConfigFiles({ HOME: join(dir, 'home'), XDG_CONFIG_DIRS: join(dir, 'xdg'), PATH: join(dir, 'node/bin'), PIP_CONFIG_FILE: join(dir, 'elsewhere/pip.conf') }, [join(dir, 'venv')]);
  const targets = files.map((f) => f.target).filter((target) => !target.startsWith('/etc/'));
  assert.deepEqual(targets, [
    '/home/mcp/.npmrc', '/home/mcp/.config/pip/pip.conf', '/home/mcp/.config/uv/uv.toml', join(dir, 'node/etc/npmrc'), join(dir, 'xdg/pip/pip.conf'),
    join(dir, 'venv/pip.conf'), join(dir, 'elsewhere/pip.conf'),
  ]);
});

test('a carried copy leaves out where the host writes (cache, prefix); what it names for reading is shown', (t) => {
  const dir = tempDir(t);
  layout(dir, {
    'home/.npmrc': `cache=${dir}/home/.npm\nprefix=${dir}/home/.npm-global\ncafile=${dir}/corp-ca.pem\n//npm.corp/:_authToken=t\n`,
    'home/pip.conf': `[global]\nconstraint = ${dir}/constraints.txt\nfind-links =\n    ${dir}/wheels\nextra-index-url = file://${dir}/pypi/simple https://pypi.org/simple\ncache-dir = ${dir}/home/.cache\n`,
    'corp-ca.pem': '', 'constraints.txt': '', 'wheels/a.whl': '', 'pypi/simple/index.html': '', 'node-ca.pem': '',
  });
  const files = [{ from: join(dir, 'home/.npmrc'), target: '/home/mcp/.npmrc' }, { from: join(dir, 'home/pip.conf'), target: '/home/mcp/.config/pip/pip.conf' }];
  const { binds, texts } = writeCarried(join(dir, 'state'), 'srv', files, false, undefined);
  assert.deepEqual(binds.map((b) => b.target), ['/home/mcp/.npmrc', '/home/mcp/.config/pip/pip.conf']);
  assert.equal(readFileSync(binds[0]!.source, 'utf8'), `cafile=${dir}/corp-ca.pem\n`);
  assert.doesNotMatch(texts[1]!, /cache-dir/);
  assert.deepEqual(referencedPaths(texts, { NODE_EXTRA_CA_CERTS: join(dir, 'node-ca.pem'), SSL_CERT_FILE: join(dir, 'missing.pem') }).sort(), [
    join(dir, 'corp-ca.pem'), join(dir, 'constraints.txt'), join(dir, 'wheels'), join(dir, 'pypi/simple'), join(dir, 'node-ca.pem'),
  ].sort());
});

test('the path a child\'s error names that the view hid; nothing for a file missing on the host too', (t) => {
  const dir = tempDir(t);
  layout(dir, { 'app/node_modules/ajv/package.json': '{}', 'shared/x.mjs': '', 'srv/venv/bin/python': '' });
  const visible = (path: string): boolean => path.startsWith(join(dir, 'app/node_modules/pkg'));
  const exists = (path: string): boolean => { try { realpathSync(path); return true; } catch { return false; } };
  const table: Array<[string, string | undefined]> = [
    [`Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'ajv' imported from ${dir}/app/node_modules/pkg/dist/index.js`, join(dir, 'app/node_modules/ajv')],
    [`Error [ERR_MODULE_NOT_FOUND]: Cannot find module '${dir}/shared/x.mjs' imported from ${dir}/app/index.mjs`, join(dir, 'shared/x.mjs')],
    [`bwrap: execvp ${dir}/srv/venv/bin/python: No such file or directory`, join(dir, 'srv/venv/bin/python')],
    [`python3: can't open file '${dir}/shared/x.mjs': [Errno 2] No such file or directory`, join(dir, 'shared/x.mjs')],
    [`Error: Cannot find module '${dir}/gone.js'`, undefined],
    [`listening on ${dir}/shared/x.mjs`, undefined],
    ['ENOENT: no such file or directory, open \'/home/mcp/.cache/x\'', undefined],
    ['Error: ENOENT /tmp', undefined],
  ];
  for (const [line, hidden] of table) assert.equal(hiddenPathIn(line, visible, exists), hidden, line);
});
