/** An OpenAPI 3.1 document checked by a real validator (schema of the spec, $refs resolved), and fetched for it. */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { compileErrors, validate } from '@readme/openapi-parser';

export async function assertValidOpenApi(doc: unknown, what: string): Promise<void> {
  // structuredClone: the parser resolves $refs in place. `array-without-items` is the parser's own
  // 3.0-era lint; JSON Schema 2020-12 (OpenAPI 3.1) allows an array without `items`, and servers send them.
  const result = await validate(structuredClone(doc) as never, { validate: { rules: { openapi: { 'array-without-items': 'warning' } } } });
  assert.ok(result.valid, `${what}: ${result.valid ? '' : compileErrors(result)}`);
  assert.equal(result.specification, 'OpenAPI', what);
}

/**
 * GET `url` as JSON on a connection of its own. The validator blocks this process's event loop for
 * seconds, long enough for the proxy to close an idle keep-alive socket (5 s) before fetch's pool
 * notices, and the next fetch on it fails with "other side closed"; a fresh connection cannot.
 */
export function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    }).once('error', reject);
  });
}
