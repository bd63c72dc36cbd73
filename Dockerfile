# syntax=docker/dockerfile:1
# mcpproxy in a container: the standalone binary, plus node/npx and uv/uvx for the MCP servers it runs.
#   docker build -t mcpproxy .
#   docker run --rm -p 8000:8000 -e AUTH_KEY=... -e MCP_SERVER_CONFIG="npx -y @modelcontextprotocol/server-everything" mcpproxy
# Configuration is by environment, read by the binary itself: MCP_SERVER_CONFIG, AUTH_KEY (or
# AUTH_KEY_FILE, e.g. a mounted secret), SHARED_SESSION, PORT, HOST, INSTANCE_ID, LOG_LEVEL,
# LOG_FORMAT, ... Arguments after the image name are mcpproxy's own: `... mcpproxy --no-auth -- <cmd>`.

ARG NODE_IMAGE=node:26-bookworm-slim

# Build stage: the same `node build.mjs` as on a workstation (bundle, then the SEA binary for this
# platform on the Node LTS runtime from the npm registry, checked with --version).
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json build.mjs ./
COPY src ./src
RUN node build.mjs

# Runtime stage. The base image's node/npm serve `npx` MCP servers; the proxy runs as its own binary.
FROM ${NODE_IMAGE}
# An empty UV_VERSION leaves uv/uvx out, for a build that cannot reach PyPI (the project's CI).
ARG UV_VERSION=0.13.8
# tini as PID 1 reaps the orphans that npx/uvx children leave behind and forwards signals.
# Debian's python3 lets uvx run Python servers without downloading an interpreter; uv from PyPI.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini python3 python3-pip python3-venv \
 && if [ -n "${UV_VERSION}" ]; then pip3 install --no-cache-dir --break-system-packages "uv==${UV_VERSION}"; fi \
 && rm -rf /var/lib/apt/lists/* /root/.cache
COPY --from=build /src/dist/mcpproxy /usr/local/bin/mcpproxy

# The base image's unprivileged user (uid 1000); npx and uvx caches go to its home.
USER node
WORKDIR /home/node
ENV HOST=0.0.0.0 \
    PORT=8000 \
    npm_config_update_notifier=false \
    UV_CACHE_DIR=/home/node/.cache/uv

EXPOSE 8000
# node is in the image anyway, so the check needs no curl; /healthz answers without the access key.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/mcpproxy"]
