# SiteFlow: multi-stage build. The build stage compiles TypeScript (dist/) and the native modules;
# the runtime stage carries production dependencies only (no tsx, esbuild or dev dependencies),
# runs Node 24 (LTS) under tini as a fixed unprivileged user (UID/GID 10001).
#
# Every base image is a build argument whose default is today's official image, so the image
# builds from a mirror too (the test suite builds it from stand-ins made of local packages):
#   docker build --build-arg NODE_IMAGE=mirror.lan/library/node:24-bookworm-slim -t siteflow .
# Builds with BuildKit and with the legacy builder (no Dockerfile frontend image is pulled).
ARG NODE_IMAGE=node:24-bookworm-slim
ARG DOCKER_CLI_IMAGE=docker:28-cli
ARG COMPOSE_IMAGE=docker/compose-bin:v2.40.3

FROM ${DOCKER_CLI_IMAGE} AS docker-cli
FROM ${COMPOSE_IMAGE} AS compose

FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
# Native modules (better-sqlite3, ssh2's cpu-features) compile against the headers the Node image
# ships in /usr/local/include/node: no prebuilt binary or header download from outside npm.
ENV npm_config_nodedir=/usr/local \
    npm_config_build_from_source=true \
    npm_config_update_notifier=false
# NPM_REGISTRY: a registry mirror. EXTRA_CA_CERTS: PEM text of extra CA certificates the build
# trusts for it (a private mirror or a TLS-inspecting proxy); only this stage sees them.
ARG NPM_REGISTRY=https://registry.npmjs.org/
ARG EXTRA_CA_CERTS=""
COPY package.json package-lock.json ./
RUN if [ -n "$EXTRA_CA_CERTS" ]; then printf '%s\n' "$EXTRA_CA_CERTS" > /tmp/extra-ca.pem \
      && export NODE_EXTRA_CA_CERTS=/tmp/extra-ca.pem; fi \
    && npm ci --no-audit --no-fund --registry "$NPM_REGISTRY" \
    && rm -f /tmp/extra-ca.pem
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
# The native build leaves its sources and objects behind; only the .node files are loaded.
RUN rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
      node_modules/better-sqlite3/build/Release/obj node_modules/better-sqlite3/build/Release/obj.target \
      node_modules/better-sqlite3/build/Release/.deps node_modules/better-sqlite3/build/Release/test_extension.node \
    && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete

FROM ${NODE_IMAGE}
# tini: PID 1 that forwards SIGTERM and reaps (-s: also fine under `docker run --init` / compose
# `init: true`). No ssh client: ssh:// Docker hosts are reached by SiteFlow's own ssh2 connection
# (Docker API, compose and SFTP), checked against DOCKER_SSH_HOST_KEYS only.
RUN apt-get update && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
# The docker CLI and the compose v2 plugin: SiteFlow drives `docker compose` like you do
# (and falls back to a `docker-compose` v1 on PATH).
COPY --from=docker-cli /usr/local/bin/docker /usr/local/bin/docker
COPY --from=compose /docker-compose /usr/local/libexec/docker/cli-plugins/docker-compose
# Fixed UID/GID 10001 (chown bind-mounted /data to it); the docker socket's group is added at run
# time (`--group-add $(stat -c %g /var/run/docker.sock)`, compose `group_add`).
ARG SITEFLOW_UID=10001
ARG SITEFLOW_GID=10001
RUN groupadd --gid ${SITEFLOW_GID} siteflow \
    && useradd --uid ${SITEFLOW_UID} --gid ${SITEFLOW_GID} --home-dir /home/siteflow --create-home \
       --shell /usr/sbin/nologin siteflow \
    && mkdir -p /data /srv/sites \
    && chown siteflow:siteflow /data
# A small young generation and two malloc arenas: an always-on bot trades a little GC work for
# less resident memory (`npm run bench memory`: 153 MB -> 141 MB for the image on Node 24).
ENV NODE_OPTIONS=--max-semi-space-size=2
ENV MALLOC_ARENA_MAX=2
# WEB_HOST stays on loopback: exposing the status page needs WEB_TOKEN (or an explicit anonymous
# opt-in), so set WEB_HOST=0.0.0.0 together with WEB_TOKEN. Slack's HTTP mode must be reachable.
ENV NODE_ENV=production \
    HOME=/home/siteflow \
    DATA_DIR=/data \
    SITES_ROOT=/srv/sites \
    WEB_HOST=127.0.0.1 \
    WEB_PORT=8080 \
    SLACK_HOST=0.0.0.0 \
    CONSOLE=off
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY drizzle ./drizzle
COPY templates ./templates
COPY views ./views
USER siteflow:siteflow
VOLUME ["/data"]
EXPOSE 8080 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WEB_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
CMD ["node", "dist/src/main.js"]
