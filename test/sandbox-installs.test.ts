// Every way a server is installed runs under the default sandbox (--sandbox auto with bubblewrap) through
// the built proxy: a package in a hoisted node_modules, node_modules/.bin, a venv's python and console
// script, a symlinked bin, a global npm install under its own prefix; package managers' configuration
// carried read-only without credentials; a start failure caused by the view names the path it hid.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient, EVERYTHING, FIXTURE, ROOT, startProxy, textOf } from './helpers/proxy.ts';
import { needBwrap } from './helpers/sandbox.ts';

const ENV_SERVER = join(ROOT, 'test', 'fixtures', 'env-server.py');

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpproxy-installs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The proxy with the default sandbox over `command`, a client on it, and its tool names. */
async function throughSandbox(t: TestContext, dir: string, command: string[], env: NodeJS.ProcessEnv = {}, extra: string[] = []) {
  const proxy = await startProxy(['--sandbox', 'auto', '--state-dir', join(dir, 'state'), ...extra, '--', ...command], { env });
  t.after(() => proxy.stop());
  const { client } = await connectClient(proxy.url, 'streamable', { connectMs: 30_000 });
  t.after(() => client.close());
  const tools = (await client.listTools()).tools.map((tool) => tool.name);
  return { proxy, client, tools };
}

/** A venv made by this machine's python (its base interpreter outside the system dirs, under pyenv here), without pip. */
function makeVenv(dir: string): { venv: string; script: string } {
  const venv = join(dir, 'venv');
  execFileSync('python3', ['-m', 'venv', '--without-pip', venv], { stdio: 'ignore' });
  const lib = join(venv, 'lib');
  const sitePackages = join(lib, readdirSync(lib).find((name) => name.startsWith('python'))!, 'site-packages');
  copyFileSync(ENV_SERVER, join(sitePackages, 'env_server.py'));
  // What pip writes for a console_scripts entry point.
  const script = join(venv, 'bin', 'env-server');
  writeFileSync(script, `#!${join(venv, 'bin', 'python')}\nimport sys\nfrom env_server import main\nif __name__ == "__main__":\n    sys.exit(main())\n`);
  chmodSync(script, 0o755);
  return { venv, script };
}

test('a package inside a hoisted node_modules (node <root>/node_modules/<pkg>/dist/index.js) finds its dependencies', { timeout: 60_000 }, async (t) => {
  if (!(await needBwrap(t))) return;
  const { tools } = await throughSandbox(t, tempDir(t), [process.execPath, EVERYTHING]);
  assert.ok(tools.includes('get-env'), tools.join(','));
});

test('node_modules/.bin/<server> (a symlink into the package) is exec\'d inside the view', { timeout: 60_000 }, async (t) => {
  if (!(await needBwrap(t))) return;
  const { tools } = await throughSandbox(t, tempDir(t), [join(ROOT, 'node_modules', '.bin', 'mcp-server-everything')]);
  assert.ok(tools.includes('get-env'), tools.join(','));
});

test('a venv: venv/bin/python server.py and a console script venv/bin/<script>; the base interpreter is visible', { timeout: 90_000 }, async (t) => {
  if (!(await needBwrap(t))) return;
  const dir = tempDir(t);
  const { venv, script } = makeVenv(dir);
  for (const command of [[join(venv, 'bin', 'python'), join(dir, 'venv', 'lib', readdirSync(join(venv, 'lib'))[0]!, 'site-packages', 'env_server.py')], [script]]) {
    await t.test(command.map((word) => word.slice(dir.length + 1)).join(' '), async (t) => {
      const { client, tools } = await throughSandbox(t, dir, command);
      assert.deepEqual(tools, ['env', 'read']);
      // It runs inside: its home is the sandbox's.
      assert.equal(JSON.parse(textOf(await client.callTool({ name: 'env', arguments: { name: 'HOME' } }))), '/home/mcp');
    });
  }
});

test('a symlinked bin outside the view runs by its real path; a global npm install under its own prefix runs', { timeout: 120_000 }, async (t) => {
  if (!(await needBwrap(t))) return;
  const dir = tempDir(t);
  // ~/bin/server -> /opt/server/server.mjs: the link's directory is not shown, its target is.
  mkdirSync(join(dir, 'opt', 'server'), { recursive: true });
  mkdirSync(join(dir, 'bin'));
  copyFileSync(FIXTURE, join(dir, 'opt', 'server', 'server.mjs'));
  chmodSync(join(dir, 'opt', 'server', 'server.mjs'), 0o755);
  symlinkSync(join(dir, 'opt', 'server', 'server.mjs'), join(dir, 'bin', 'server'));
  await t.test('symlinked bin', async (t) => {
    const { tools } = await throughSandbox(t, dir, [join(dir, 'bin', 'server')]);
    assert.ok(tools.includes('echo'), tools.join(','));
  });
  // npm i -g into a prefix of its own (as nvm lays it out): <prefix>/bin/<name> -> ../lib/node_modules/<pkg>/server.mjs.
  const pkg = join(dir, 'pkg');
  mkdirSync(pkg);
  copyFileSync(FIXTURE, join(pkg, 'server.mjs'));
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'mcpproxy-global-fixture', version: '1.0.0', type: 'module', bin: { 'mcpproxy-global-fixture': 'server.mjs' } }));
  const prefix = join(dir, 'prefix');
  const npmEnv = { ...process.env, npm_config_update_notifier: 'false' };
  // From a tarball, as from the registry: a directory would be linked, not copied.
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: pkg, encoding: 'utf8', env: npmEnv }).trim();
  execFileSync('npm', ['install', '--global', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', join(dir, tarball)], { stdio: 'ignore', env: npmEnv });
  await t.test('global npm install', async (t) => {
    const { tools } = await throughSandbox(t, dir, [join(prefix, 'bin', 'mcpproxy-global-fixture')]);
    assert.ok(tools.includes('echo'), tools.join(','));
  });
});

const NPMRC = 'registry=https://alice:s3cret@npm.corp.example/\n//npm.corp.example/:_authToken=npm-TOKEN-1\n_auth=YWxpY2U6czNjcmV0\nstrict-ssl=true\n';
const PIP_CONF = '[global]\nindex-url = https://bob:pip-PASS@pypi.corp.example/simple\ntimeout = 30\nclient-cert = /home/bob/key.pem\n';

test('npm and pip configuration is carried read-only, without credentials unless --package-credentials', { timeout: 90_000 }, async (t) => {
  if (!(await needBwrap(t))) return;
  const dir = tempDir(t);
  const { script } = makeVenv(dir);
  const home = join(dir, 'home');
  mkdirSync(join(home, '.config', 'pip'), { recursive: true });
  writeFileSync(join(home, '.npmrc'), NPMRC);
  writeFileSync(join(home, '.config', 'pip', 'pip.conf'), PIP_CONF);
  const env = { HOME: home, npm_config__authToken: 'npm-TOKEN-2', PIP_INDEX_URL: 'https://bob:pip-PASS@pypi.corp.example/simple' };
  const read = async (client: Awaited<ReturnType<typeof throughSandbox>>['client'], path: string): Promise<string> => textOf(await client.callTool({ name: 'read', arguments: { path } }));
  const envOf = async (client: Awaited<ReturnType<typeof throughSandbox>>['client'], name: string): Promise<unknown> => JSON.parse(textOf(await client.callTool({ name: 'env', arguments: { name } })));
  await t.test('default: settings kept, credentials out', async (t) => {
    const { client, proxy } = await throughSandbox(t, dir, [script], env);
    const npmrc = await read(client, '/home/mcp/.npmrc');
    assert.match(npmrc, /^registry=https:\/\/npm\.corp\.example\/$/m);
    assert.match(npmrc, /^strict-ssl=true$/m);
    assert.doesNotMatch(npmrc, /s3cret|npm-TOKEN|_auth|YWxp/);
    const pip = await read(client, '/home/mcp/.config/pip/pip.conf');
    assert.match(pip, /^index-url = https:\/\/pypi\.corp\.example\/simple$/m);
    assert.match(pip, /^timeout = 30$/m);
    assert.doesNotMatch(pip, /pip-PASS|client-cert/);
    assert.equal(await envOf(client, 'npm_config__authToken'), null);
    assert.equal(await envOf(client, 'PIP_INDEX_URL'), 'https://pypi.corp.example/simple');
    assert.match(await read(client, `${home}/.npmrc`), /^error: /, 'the host file itself is not shown');
    assert.match(proxy.logs(), /sandbox carried files=\S*\.npmrc\S* .*credentials=removed/);
  });
  await t.test('--package-credentials: carried as they are', async (t) => {
    const { client } = await throughSandbox(t, dir, [script], env, ['--package-credentials']);
    assert.equal(await read(client, '/home/mcp/.npmrc'), NPMRC);
    assert.equal(await envOf(client, 'npm_config__authToken'), 'npm-TOKEN-2');
  });
});

test('a start failure caused by the view names the path it hid, with the fix', { timeout: 60_000 }, async (t) => {
  if (!(await needBwrap(t))) return;
  const dir = tempDir(t);
  mkdirSync(join(dir, 'app'));
  mkdirSync(join(dir, 'shared'));
  writeFileSync(join(dir, 'app', 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'shared', 'helper.mjs'), 'export const x = 1;\n');
  writeFileSync(join(dir, 'app', 'index.mjs'), `import '${join(dir, 'shared', 'helper.mjs')}';\n`);
  const proxy = await startProxy(['--sandbox', 'auto', '--state-dir', join(dir, 'state'), '--', process.execPath, join(dir, 'app', 'index.mjs')]);
  t.after(() => proxy.stop());
  const line = await proxy.waitForLog(/warn {2}sandbox hid \S+ .*\n/, 30_000);
  assert.match(line, new RegExp(`sandbox hid ${join(dir, 'shared', 'helper.mjs').replaceAll('/', '\\/')} .*fix="add it to the server's sandbox\\.readOnly or --sandbox-read"`));
});
