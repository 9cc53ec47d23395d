# syntax=docker/dockerfile:1
# CPU worker image. The same image runs the ops server (command: node dist/workers/ops-server.js).
#   docker build -t revmod-worker .
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# onnxruntime-node's CPU binaries ship in its npm tarball; its install script would only download CUDA
# libraries. --ignore-scripts mirrors package.json "allowScripts" (every script denied), which npm 10
# (the one in node:20 images) does not read.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages/client ./packages/client
COPY src ./src
COPY workers ./workers
COPY models ./models
# dist/ mirrors the source tree (dist/workers/cli.js, dist/src/...); the SDK builds into packages/client/dist.
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    MALLOC_ARENA_MAX=2
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/index.js ./packages/client/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY --from=build /app/dist ./dist
COPY workers/revmod.js ./workers/
# No model is baked in: mount yours and point REVMOD_MODEL_PATH at it (docs/operations.md).
# The node image's unprivileged user (uid 1000); nothing in /app is writable by it.
USER node
# REVMOD_METRICS_PORT turns on /metrics, /healthz and /readyz (the compose file and k8s example use 9464).
EXPOSE 9464
CMD ["node", "dist/workers/moderation-worker.js"]
