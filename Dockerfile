# One image for both apps (and the CLI); APP picks which one runs.
# Node 24 (LTS): the version CI's node-lts leg tests (.ci/run, NODE_LTS). CI builds and runs this file in its
# `image` leg (docs/container.md): podman, from a stand-in of node:24-trixie-slim.
FROM node:24-trixie-slim AS build
WORKDIR /app
# the dependency layer: reused by every build that changes no package file
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json ./
COPY scripts/ensure-built.js scripts/
COPY apps apps
COPY libs libs
# the apps only (no specs: tsconfig.app.json leaves them out), then the devDependencies go
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && rm -f dist/.built

FROM node:24-trixie-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="fib-rpc" \
      org.opencontainers.image.description="Request/reply RPC over RabbitMQ for NestJS: the fib(n) gateway and worker (APP=gateway|fib-worker)" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.revision="$REVISION" \
      org.opencontainers.image.base.name="docker.io/library/node:24-trixie-slim"
ENV NODE_ENV=production APP=gateway
WORKDIR /app
# owned by root, so read-only to the app's user; nothing under /app is written at run time
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY scripts/container-health.js scripts/
# numeric: Kubernetes' runAsNonRoot can only verify a numeric user (uid 1000 is the base image's `node`)
USER 1000:1000
EXPOSE 3000 3001
# GET /health of the app APP names (200: can serve now); node, not curl, which the slim image lacks
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "scripts/container-health.js"]
# exec: the app gets SIGTERM itself and drains before exiting 0
CMD ["sh", "-c", "exec node dist/apps/$APP/main.js"]
