// Which per-session variables a client may set (src/env-policy.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EnvInputError, isAllowedEnvName, isDeniedEnvName, isRiskyEnvName, isValidEnvName, MAX_ENV_VALUE_BYTES, MAX_SESSION_ENV_BYTES,
  parseAllowList, parseEnvHeader, RESERVED_PARAMS, selectSessionEnv,
} from '../src/config/env-policy.ts';

/** Names that turn "pass my token" into code execution, code fetching or traffic interception. */
const DANGEROUS = [
  'LD_PRELOAD', 'LD_LIBRARY_PATH', 'ld_preload', 'DYLD_INSERT_LIBRARIES', 'NODE_OPTIONS', 'NODE_PATH', 'node_options',
  'PATH', 'Path', 'path', 'HOME', 'SHELL', 'BASH_ENV', 'ENV', 'PROMPT_COMMAND', 'IFS', 'PS4',
  'http_proxy', 'HTTP_PROXY', 'https_proxy', 'all_proxy', 'no_proxy', 'npm_config_registry', 'NPM_CONFIG_USERCONFIG',
  'PYTHONPATH', 'PYTHONSTARTUP', 'PIP_INDEX_URL', 'UV_INDEX_URL', 'PERL5OPT', 'RUBYOPT', 'GEM_HOME', 'JAVA_TOOL_OPTIONS',
  'GIT_SSH_COMMAND', 'GIT_CONFIG_GLOBAL', 'GLIBC_TUNABLES', 'GCONV_PATH', 'SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS',
  'ELECTRON_RUN_AS_NODE', 'DENO_DIR', 'BUN_INSTALL', 'GOPROXY', 'XDG_CONFIG_HOME', 'MALLOC_CONF', 'EDITOR',
  'AUTH_KEY', 'AUTH_KEY_FILE', 'MCP_SERVER_CONFIG', 'MCPPROXY_ANYTHING', 'BASH_FUNC_x', 'OPENSSL_CONF',
];

test('dangerous names are denied whatever the allow list says', () => {
  const lists = [parseAllowList(['*']), parseAllowList(['LD_*', 'NODE_*', 'NPM_*', 'BASH_*', 'P*', 'H*', 'npm_*', 'http_*']), parseAllowList(DANGEROUS)];
  for (const name of DANGEROUS) {
    assert.equal(isDeniedEnvName(name), true, name);
    for (const allow of lists) assert.equal(isAllowedEnvName(name, allow), false, name);
  }
});

test('BASH_FUNC_x%% (an exported shell function) is neither valid nor allowed', () => {
  assert.equal(isValidEnvName('BASH_FUNC_x%%'), false);
  assert.equal(isDeniedEnvName('BASH_FUNC_x%%'), true);
  assert.equal(isAllowedEnvName('BASH_FUNC_x%%', parseAllowList(['*'])), false);
  assert.throws(() => selectSessionEnv([['BASH_FUNC_x%%', '() { id; }']], parseAllowList(['*'])), EnvInputError);
});

test('allowed names: exact, prefix, any', () => {
  const cases: Array<{ allow: string[]; name: string; allowed: boolean }> = [
    { allow: ['API_KEY'], name: 'API_KEY', allowed: true },
    { allow: ['API_KEY'], name: 'api_key', allowed: false }, // exact names are case-sensitive
    { allow: ['API_KEY'], name: 'API_KEY2', allowed: false },
    { allow: ['TEAM_*'], name: 'TEAM_TOKEN', allowed: true },
    { allow: ['TEAM_*'], name: 'TEAM_', allowed: true },
    { allow: ['TEAM_*'], name: 'TEAMX', allowed: false },
    { allow: ['TEAM_*'], name: 'team_token', allowed: true }, // prefixes compare as the deny lists do: without case
    { allow: ['team_*'], name: 'TEAM_TOKEN', allowed: true },
    { allow: ['*'], name: 'GITHUB_TOKEN', allowed: true },
    { allow: ['*'], name: 'lowercase_ok', allowed: true },
    { allow: [], name: 'API_KEY', allowed: false },
  ];
  for (const { allow, name, allowed } of cases) {
    assert.equal(isAllowedEnvName(name, parseAllowList(allow)), allowed, `${allow.join(',')} / ${name}`);
  }
});

test('parseAllowList rejects what is not a name or NAME_PREFIX_*', () => {
  for (const item of ['BAD-NAME', '1ABC', '*FOO', 'A*B', 'A B', '', '**', 'X'.repeat(129)]) {
    assert.throws(() => parseAllowList([item]), /is not a variable name/, JSON.stringify(item));
  }
  assert.deepEqual(parseAllowList(['A', 'B_*', '*']), { any: true, exact: new Set(['A']), prefixes: ['B_'] });
});

test('valid names', () => {
  for (const name of ['A', '_', 'a1', 'API_KEY', 'X'.repeat(128)]) assert.equal(isValidEnvName(name), true, name);
  for (const name of ['', '1A', 'A-B', 'A.B', 'A=B', 'É', 'A B', 'X'.repeat(129)]) assert.equal(isValidEnvName(name), false, name);
});

test('selectSessionEnv keeps allowed names, lists ignored ones by name, skips reserved params', () => {
  const allow = parseAllowList(['API_KEY', 'TEAM_*', 'LD_PRELOAD', 'PATH']);
  const { env, ignored } = selectSessionEnv([
    ['API_KEY', 'k-123'], ['TEAM_ID', '7'], ['OTHER', 'x'], ['LD_PRELOAD', '/tmp/evil.so'], ['PATH', '/tmp'],
    ['auth_key', 'secret'], ['session_id', 'abc'], ['sessionId', 'abc'], ['EMPTY_OK', ''],
  ], allow);
  assert.deepEqual(env, { API_KEY: 'k-123', TEAM_ID: '7' });
  assert.deepEqual(ignored, ['OTHER', 'LD_PRELOAD', 'PATH', 'EMPTY_OK']);
  assert.deepEqual([...RESERVED_PARAMS].sort(), ['auth_key', 'servers', 'session_id', 'sessionId'].sort());
});

test('selectSessionEnv refuses malformed input: bad names, NUL, oversized values and sessions', () => {
  const any = parseAllowList(['*']);
  const cases: Array<{ name: string; candidates: Array<[string, string]>; says: RegExp }> = [
    { name: 'bad name', candidates: [['A-B', 'x']], says: /not a valid environment variable name/ },
    { name: 'NUL in value', candidates: [['TOKEN', 'ab\0cd']], says: /NUL/ },
    { name: 'NUL in a denied name\'s value is still refused', candidates: [['LD_PRELOAD', '\0']], says: /NUL/ },
    { name: 'value too long', candidates: [['BIG', 'x'.repeat(MAX_ENV_VALUE_BYTES + 1)]], says: new RegExp(`longer than ${MAX_ENV_VALUE_BYTES} bytes`) },
    { name: 'value too long in bytes, not chars', candidates: [['BIG', 'é'.repeat(MAX_ENV_VALUE_BYTES / 2 + 1)]], says: /longer than/ },
    {
      name: 'session too large',
      candidates: Array.from({ length: MAX_SESSION_ENV_BYTES / MAX_ENV_VALUE_BYTES + 1 }, (_, i): [string, string] => [`V${i}`, 'x'.repeat(MAX_ENV_VALUE_BYTES)]),
      says: new RegExp(`session environment is larger than ${MAX_SESSION_ENV_BYTES} bytes`),
    },
  ];
  for (const { name, candidates, says } of cases) {
    assert.throws(() => selectSessionEnv(candidates, any), (err: unknown) => err instanceof EnvInputError && says.test(err.message), name);
  }
  // At the limits exactly: accepted.
  const atLimit = selectSessionEnv([['BIG', 'x'.repeat(MAX_ENV_VALUE_BYTES)]], any);
  assert.equal(atLimit.env.BIG!.length, MAX_ENV_VALUE_BYTES);
  const exactlyFull: Array<[string, string]> = [];
  for (let left = MAX_SESSION_ENV_BYTES, i = 0; left > 0; i++) {
    const name = `V${String(i).padStart(3, '0')}`;
    const value = 'x'.repeat(Math.min(MAX_ENV_VALUE_BYTES, left - name.length));
    exactlyFull.push([name, value]);
    left -= name.length + value.length;
  }
  assert.equal(Object.keys(selectSessionEnv(exactlyFull, any).env).length, exactlyFull.length);
  assert.throws(() => selectSessionEnv([...exactlyFull, ['X', '']], any), EnvInputError, 'one byte more');
  // The error names the variable but never echoes its value.
  try {
    selectSessionEnv([['TOKEN', 'sekrit\0']], any);
    assert.fail('expected an error');
  } catch (err) {
    assert.doesNotMatch((err as Error).message, /sekrit/);
  }
});

test('parseEnvHeader splits NAME=value at the first "="', () => {
  assert.deepEqual(parseEnvHeader('API_KEY=a=b=c'), ['API_KEY', 'a=b=c']);
  assert.deepEqual(parseEnvHeader(' API_KEY =  v '), ['API_KEY', '  v ']);
  assert.deepEqual(parseEnvHeader('EMPTY='), ['EMPTY', '']);
  for (const bad of ['=value', 'NOEQUALS', '']) assert.throws(() => parseEnvHeader(bad), EnvInputError, bad);
});

/** What `*` must not admit: where traffic goes, what is trusted, what code runs (the rule, not a list). */
const REDIRECTING = [
  'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL', 'GITHUB_API_URL', 'OPENAI_API_BASE', 'GITHUB_HOST',
  'ELASTICSEARCH_URL', 'SENTRY_DSN_URI', 'OLLAMA_HOST', 'AZURE_OPENAI_ENDPOINT', 'MY_SERVICE_BASEURL', 'HTTPPROXY', 'SOCKS_PROXY',
  'AWS_CA_BUNDLE', 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH', 'REQUESTS_CA_BUNDLE', 'MY_CERT_FILE', 'NODE_TLS_REJECT_UNAUTHORIZED', 'DB_SSL_VERIFY',
  'OPENSSL_ENGINES', 'RUSTC_WRAPPER', 'RUSTFLAGS', 'CGO_LDFLAGS', 'GOSUMDB', 'GONOSUMCHECK', 'GONOPROXY', 'GOENV', 'GOEXPERIMENT',
  'QT_PLUGIN_PATH', 'GI_TYPELIB_PATH', 'SOME_LIBRARY_PATH', 'KUBECONFIG', 'TOOL_CONFIG_FILE', 'JAVA_OPTS', 'GRADLE_OPTS', 'GIT_EXEC_PATH',
  'aws_endpoint_url', 'openai_base_url',
];
/** Credentials and plain settings `*` still admits. */
const PLAIN = [
  'GITHUB_PERSONAL_ACCESS_TOKEN', 'GITHUB_TOKEN', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'SLACK_BOT_TOKEN', 'SLACK_TEAM_ID', 'BRAVE_API_KEY',
  'GOOGLE_API_KEY', 'GOOGLE_CLIENT_ID', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'NOTION_TOKEN',
  'LINEAR_API_KEY', 'EXTRA_TOOL', 'TEAM', 'USER_ID', 'DEBUG', 'LOG_LEVEL',
];

test('--allow-env \'*\' and prefixes admit no variable that redirects traffic or trust or runs code; credentials pass', () => {
  const star = parseAllowList(['*']);
  for (const name of REDIRECTING) {
    assert.equal(isRiskyEnvName(name), true, name);
    assert.equal(isAllowedEnvName(name, star), false, `* admits ${name}`);
    const prefix = name.slice(0, name.indexOf('_') + 1);
    if (prefix !== '') assert.equal(isAllowedEnvName(name, parseAllowList([`${prefix}*`])), false, `${prefix}* admits ${name}`);
  }
  for (const name of PLAIN) assert.equal(isAllowedEnvName(name, star), true, `* refuses ${name}`);
  assert.deepEqual(selectSessionEnv([['OPENAI_BASE_URL', 'https://evil.example'], ['OPENAI_API_KEY', 'k']], star), { env: { OPENAI_API_KEY: 'k' }, ignored: ['OPENAI_BASE_URL'] });
});

test('an exact name the operator lists is taken at its word, unless it is on the fixed deny lists', () => {
  assert.equal(isAllowedEnvName('DATABASE_URL', parseAllowList(['*'])), false);
  assert.equal(isAllowedEnvName('DATABASE_URL', parseAllowList(['DATABASE_URL'])), true);
  assert.equal(isAllowedEnvName('DATABASE_URL', parseAllowList(['DATABASE_*'])), false);
  for (const name of ['LD_PRELOAD', 'HTTPS_PROXY', 'NODE_OPTIONS', 'GOPROXY']) assert.equal(isAllowedEnvName(name, parseAllowList([name])), false, name);
});
