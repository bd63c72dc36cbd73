/** The product version, set by the bundler (esbuild `define`); a dev build from source says so. */
declare const MCPPROXY_VERSION: string;
export const VERSION = typeof MCPPROXY_VERSION === 'string' ? MCPPROXY_VERSION : '0.0.0-dev';
