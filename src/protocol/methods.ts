/** The request methods MCP defines (every era, both directions): what a metric may name; anything else is a client's invention. */
export const MCP_REQUEST_METHODS: ReadonlySet<string> = new Set([
  'initialize', 'ping', 'server/discover', 'subscriptions/listen', 'logging/setLevel', 'completion/complete',
  'tools/list', 'tools/call', 'prompts/list', 'prompts/get',
  'resources/list', 'resources/templates/list', 'resources/read', 'resources/subscribe', 'resources/unsubscribe',
  'tasks/get', 'tasks/result', 'tasks/list', 'tasks/cancel',
  'sampling/createMessage', 'elicitation/create', 'roots/list',
]);
