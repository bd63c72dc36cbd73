// test/helpers/venv.ts reads pip's index from `pip config list` so pip never tries its default index:
// this machine's layout (extra-index-url + find-links, no index-url) and a plain index-url both work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pipIndexArgs } from './helpers/venv.ts';

test('extra indexes and find-links (this machine): the first extra becomes the index, so the default is never tried', () => {
  const list = ":env:.find-links='/opt/wheels'\nglobal.cert='/etc/ssl/certs/ca.crt'\nglobal.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'\nglobal.find-links='/elsewhere'\n";
  assert.deepEqual(pipIndexArgs(list), ['--index-url', 'file:///opt/pypi/simple', '--extra-index-url', 'file:///opt/pypi-more/simple', '--find-links', '/opt/wheels']);
});

test('a plain index-url is passed as is; the environment wins over the files; multi-line values split', () => {
  assert.deepEqual(pipIndexArgs("global.index-url='https://pypi.corp.example/simple'\n"), ['--index-url', 'https://pypi.corp.example/simple']);
  assert.deepEqual(pipIndexArgs("global.index-url='https://a/simple'\n:env:.index-url='https://b/simple'\n"), ['--index-url', 'https://b/simple']);
  assert.deepEqual(pipIndexArgs("global.extra-index-url='\\nhttps://a/simple\\nhttps://b/simple'\n"), ['--index-url', 'https://a/simple', '--extra-index-url', 'https://b/simple']);
});

test('only find-links: no index at all; nothing configured: undefined (the caller skips)', () => {
  assert.deepEqual(pipIndexArgs("install.find-links='/opt/wheels'\n"), ['--no-index', '--find-links', '/opt/wheels']);
  assert.equal(pipIndexArgs("global.cert='/x'\n"), undefined);
});
