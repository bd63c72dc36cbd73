/**
 * Ready-to-paste client configuration for one of the proxy's routes. Pure: the console's data
 * endpoint and `mcpproxy print-config` both print these. The access key never appears: each snippet
 * reads it from where that client keeps secrets, or shows a placeholder to replace.
 */

export const CLIENTS = ['claude-code', 'cursor', 'vscode', 'claude-desktop', 'python', 'typescript'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** The environment variable every snippet that can read one takes the key from. */
export const KEY_VARIABLE = 'MCPPROXY_KEY';

export interface SnippetOptions {
  /** The proxy's public URL, e.g. `https://mcp.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** One server's own route (`/servers/<name>/mcp`); the aggregate `/mcp` when undefined. */
  server?: string;
  /** Whether the proxy asks for an access key (adds the Authorization header). */
  hasKey: boolean;
}

export interface Snippet {
  client: ClientName;
  title: string;
  /** Where it goes: a file, or `shell`. */
  where: string;
  language: 'shell' | 'json' | 'python' | 'typescript';
  text: string;
}

/** The Streamable HTTP URL of the route. */
export function routeUrl(baseUrl: string, server: string | undefined): string {
  const base = baseUrl.replace(/\/+$/, '');
  return server === undefined ? `${base}/mcp` : `${base}/servers/${server}/mcp`;
}

export function snippets(options: SnippetOptions): Snippet[] {
  return CLIENTS.map((client) => snippet(client, options));
}

export function snippet(client: ClientName, { baseUrl, server, hasKey }: SnippetOptions): Snippet {
  const url = routeUrl(baseUrl, server);
  const name = server ?? 'mcpproxy';
  const json = (value: unknown): string => JSON.stringify(value, null, 2);
  switch (client) {
    case 'claude-code':
      return {
        client, title: 'Claude Code', where: 'shell', language: 'shell',
        text: `claude mcp add --transport http ${name} ${shellQuote(url)}${hasKey ? ` --header "Authorization: Bearer $${KEY_VARIABLE}"` : ''}`,
      };
    case 'cursor':
      // Cursor expands ${env:NAME} in mcp.json, so the key stays in the environment.
      return {
        client, title: 'Cursor', where: '~/.cursor/mcp.json', language: 'json',
        text: json({ mcpServers: { [name]: { url, ...(hasKey ? { headers: { Authorization: `Bearer \${env:${KEY_VARIABLE}}` } } : {}) } } }),
      };
    case 'vscode':
      // VS Code asks for an input once and keeps it in its secret storage.
      return {
        client, title: 'VS Code', where: '.vscode/mcp.json', language: 'json',
        text: json({
          ...(hasKey ? { inputs: [{ type: 'promptString', id: 'mcpproxy-key', description: 'mcpproxy access key', password: true }] } : {}),
          servers: { [name]: { type: 'http', url, ...(hasKey ? { headers: { Authorization: 'Bearer ${input:mcpproxy-key}' } } : {}) } },
        }),
      };
    case 'claude-desktop':
      // mcp-remote bridges stdio to HTTP; it expands ${AUTH_HEADER} itself (a space inside an argument breaks on Windows).
      return {
        client, title: 'Claude Desktop (mcp-remote)', where: 'claude_desktop_config.json', language: 'json',
        text: json({
          mcpServers: {
            [name]: {
              command: 'npx',
              args: ['-y', 'mcp-remote', url, ...(url.startsWith('http:') ? ['--allow-http'] : []), ...(hasKey ? ['--header', 'Authorization:${AUTH_HEADER}'] : [])],
              ...(hasKey ? { env: { AUTH_HEADER: `Bearer <${KEY_VARIABLE}>` } } : {}),
            },
          },
        }),
      };
    case 'python':
      return { client, title: 'Python SDK', where: 'client.py', language: 'python', text: pythonClient(url, hasKey) };
    case 'typescript':
      return { client, title: 'TypeScript SDK', where: 'client.ts', language: 'typescript', text: typescriptClient(url, hasKey) };
  }
}

/** For `mcp` 2.x (1.x's `streamablehttp_client` and its `headers=` are gone: headers go on the HTTP client). */
function pythonClient(url: string, hasKey: boolean): string {
  return [
    'import asyncio, os',
    'from mcp import ClientSession',
    'from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client',
    '',
    'async def main():',
    `    headers = ${hasKey ? `{"Authorization": f"Bearer {os.environ['${KEY_VARIABLE}']}"}` : '{}'}`,
    '    async with create_mcp_http_client(headers=headers) as http_client:',
    `        async with streamable_http_client(${JSON.stringify(url)}, http_client=http_client) as (read, write):`,
    '            async with ClientSession(read, write) as session:',
    '                await session.initialize()',
    '                print(await session.list_tools())',
    '',
    'asyncio.run(main())',
    '',
  ].join('\n');
}

function typescriptClient(url: string, hasKey: boolean): string {
  const init = hasKey ? `, {\n  requestInit: { headers: { Authorization: \`Bearer \${process.env.${KEY_VARIABLE}}\` } },\n}` : '';
  return [
    "import { Client } from '@modelcontextprotocol/sdk/client/index.js';",
    "import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';",
    '',
    "const client = new Client({ name: 'my-app', version: '1.0.0' });",
    `await client.connect(new StreamableHTTPClientTransport(new URL(${JSON.stringify(url)})${init}));`,
    'console.log(await client.listTools());',
    // The transport keeps a connection open: without this the program never exits.
    'await client.close();',
    '',
  ].join('\n');
}

/** A word as POSIX sh reads it back unchanged: as is when it is plainly safe, else in single quotes. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
