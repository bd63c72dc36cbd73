// `import x from './file' with { type: 'text' }` under node --import tsx, as esbuild bundles it: the
// file's text as the default export (the console's page, style and script are imported this way).
import { register } from 'node:module';

register('data:text/javascript,' + encodeURIComponent(`
import { readFile } from 'node:fs/promises';
export async function load(url, context, next) {
  if (context.importAttributes?.type !== 'text') return next(url, context);
  const text = await readFile(new URL(url), 'utf8');
  return { format: 'module', shortCircuit: true, source: 'export default ' + JSON.stringify(text) + ';' };
}`));
