/** An OpenAPI 3.1 document checked by a real validator (schema of the spec, $refs resolved). */
import assert from 'node:assert/strict';
import { compileErrors, validate } from '@readme/openapi-parser';

export async function assertValidOpenApi(doc: unknown, what: string): Promise<void> {
  // structuredClone: the parser resolves $refs in place. `array-without-items` is the parser's own
  // 3.0-era lint; JSON Schema 2020-12 (OpenAPI 3.1) allows an array without `items`, and servers send them.
  const result = await validate(structuredClone(doc) as never, { validate: { rules: { openapi: { 'array-without-items': 'warning' } } } });
  assert.ok(result.valid, `${what}: ${result.valid ? '' : compileErrors(result)}`);
  assert.equal(result.specification, 'OpenAPI', what);
}
