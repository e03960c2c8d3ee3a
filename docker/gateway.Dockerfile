# The TypeScript gateway: HTTP (OpenAI-compatible + legacy) and WhisperLive WebSocket.
# Thin wrapper around the same entry point CI exercises (`node dist/gateway/main.js`).
# NODE_IMAGE: the official image by default; any Debian bookworm image with Node 22 and
# npm in /usr/local works (scripts/container_bases.sh builds one where registries cannot
# be reached).
ARG NODE_IMAGE=node:22-bookworm-slim

# Every package, cached until package-lock.json changes. --ignore-scripts: no install script
# is needed (ffmpeg-static's would download a binary from outside the registry; the image
# uses Debian's ffmpeg). Secret `ca_bundle` (optional): the CA bundle npm trusts, for
# builds behind a TLS-inspecting proxy; it is not kept in the image.
FROM ${NODE_IMAGE} AS modules
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -f /run/secrets/ca_bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; fi \
 && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM modules AS build
COPY tsconfig.json tsconfig.build.json ./
COPY gateway ./gateway
RUN node_modules/.bin/tsc -p tsconfig.build.json

# The runtime packages only (offline: removes the development ones).
FROM modules AS deps
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

# better-sqlite3's native module (the job store), which --ignore-scripts left unbuilt:
# compiled here with Debian's toolchain against the headers the Node image ships in
# /usr/local/include/node (nodedir), from source (no prebuilt download), so nothing but the
# Debian mirror is reached.
FROM deps AS native
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
RUN npm_config_nodedir=/usr/local npm_config_build_from_source=true \
    npm rebuild better-sqlite3 --no-audit --no-fund --loglevel=error \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"

FROM ${NODE_IMAGE}
# Debian's ffmpeg decodes uploads (FFMPEG_PATH or PATH; see README, ffmpeg).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin stt \
 && install -d -o stt -g stt -m 0700 /data
WORKDIR /app
COPY --from=native /app/node_modules ./node_modules
COPY package.json ./
COPY proto ./proto
COPY --from=build /app/dist ./dist
# The web page at / (static files, found beside dist/ as in the repository).
COPY gateway/public ./gateway/public
ENV NODE_ENV=production HTTP_PORT=8080 PORT_WHISPERLIVE=5050 GATEWAY_HOST=0.0.0.0 \
    GATEWAY_DATA_DIR=/data
# Jobs: the SQLite database and the queued audio (mount a volume to keep them).
VOLUME /data
USER stt
EXPOSE 8080 5050
# Healthy while at least one worker serves (/readyz), so `depends_on: service_healthy`
# and `compose up --wait` mean "ready to transcribe", not just "process alive".
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/gateway/main.js"]
