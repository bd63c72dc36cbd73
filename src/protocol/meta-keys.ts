/**
 * `_meta` keys both sides of the proxy use: the 2026-07-28 envelope's (read from clients, written to
 * modern children) and the proxy-private link from a child's request to the call it belongs to.
 */
export const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
export const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';
export const CLIENT_INFO_KEY = 'io.modelcontextprotocol/clientInfo';
export const LOG_LEVEL_KEY = 'io.modelcontextprotocol/logLevel';
export const SERVER_INFO_KEY = 'io.modelcontextprotocol/serverInfo';
export const SUBSCRIPTION_ID_KEY = 'io.modelcontextprotocol/subscriptionId';

/**
 * A proxy-private `_meta` key on a request from the child naming the upstream id of the call it
 * belongs to. Layers between the hub and the child that know the link (a modern child's
 * `input_required` turned into real requests) set it; the hub routes by it and strips it.
 */
export const RELATED_REQUEST_META = 'io.mcpproxy/relatedRequestId';
