# syntax=docker/dockerfile:1
# One image for every Handoff service; the service is chosen by the command:
#   docker run handoff:<tag> mailer        (runs `node dist/services/launch.js mailer`)
# Base images are pinned by version (pin by digest in your registry mirror for byte-for-byte builds).

ARG NODE_IMAGE=node:20.19-bookworm-slim

# ---- build: full dependency tree, TypeScript compiled to dist/ --------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY services ./services
COPY deploy/dist-package.json ./deploy/dist-package.json
# The same command test/deploy/build-output.test.ts runs: tsc -p tsconfig.build.json.
RUN npm run build

# ---- production dependencies only, installed apart so no dev tooling leaks into the runtime ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The Noto packages ship nine weights each (~215 MB with CJK); tickets use two (ticket-fonts.ts).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force \
 && find node_modules/@expo-google-fonts -name '*.ttf' ! -name '*_400Regular.ttf' ! -name '*_700Bold.ttf' -delete

# ---- runtime: compiled JavaScript, production node_modules, non-root --------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    GATEWAY_PORT=3000 \
    WEBHOOK_PORT=3001 \
    HEALTH_PORT=8080
WORKDIR /app
# package.json carries "type": "module", which makes Node load dist/**/*.js as ES modules.
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The code is owned by root and read-only to the service; it runs as the image's unprivileged
# `node` user (uid 1000), which the Kubernetes securityContext pins with runAsUser/runAsNonRoot.
USER 1000:1000
EXPOSE 3000 3001 8080
# No tsx at runtime: plain node on compiled output. exec form, so SIGTERM reaches node directly
# and the service's graceful drain runs (the process pool's children get their own group).
ENTRYPOINT ["node", "dist/services/launch.js"]
CMD ["gateway"]
