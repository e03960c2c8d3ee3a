# The TypeScript gateway: HTTP (OpenAI-compatible + legacy) and WhisperLive WebSocket.
# Thin wrapper around the same entry point CI exercises (`node dist/gateway/main.js`).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY gateway ./gateway
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM ${NODE_IMAGE}
# Debian's ffmpeg: the gateway prefers ffmpeg-static's binary when its install fetched it
# and falls back to this one (FFMPEG_PATH or PATH).
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./package.json
COPY proto ./proto
ENV NODE_ENV=production HTTP_PORT=8080 PORT_WHISPERLIVE=5050 GATEWAY_HOST=0.0.0.0
USER node
EXPOSE 8080 5050
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/gateway/main.js"]
