/**
 * The checks every transport and client era runs against server-everything through the proxy:
 * tools listed and called, prompts listed and got, a resource listed and read. Written against the
 * methods the SDK 1.32 and 2.4 clients share.
 */
import assert from 'node:assert/strict';
import { textOf } from './proxy.ts';

interface EverythingClient {
  listTools(): Promise<{ tools: Array<{ name: string }> }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  listPrompts(): Promise<{ prompts: Array<{ name: string }> }>;
  getPrompt(params: { name: string; arguments: Record<string, string> }): Promise<{ messages: unknown }>;
  listResources(): Promise<{ resources: Array<{ uri: string }> }>;
  readResource(params: { uri: string }): Promise<{ contents: Array<{ uri: string }> }>;
}

/** Runs the shared checks; returns the first resource's URI for transport-specific follow-ups. */
export async function checkEverythingBasics(client: EverythingClient, expectedTools: string[]): Promise<string> {
  const names = (await client.listTools()).tools.map((tool) => tool.name);
  for (const name of ['echo', ...expectedTools]) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  assert.equal(textOf(await client.callTool({ name: 'echo', arguments: { message: 'über' } })), 'Echo: über');

  const { prompts } = await client.listPrompts();
  assert.ok(prompts.some((prompt) => prompt.name === 'simple-prompt'));
  assert.match(JSON.stringify((await client.getPrompt({ name: 'args-prompt', arguments: { city: 'Oslo' } })).messages), /Oslo/);

  const { resources } = await client.listResources();
  const uri = resources[0]!.uri;
  assert.equal((await client.readResource({ uri })).contents[0]!.uri, uri);
  return uri;
}
