# Gateway and worker in one container, as `make run` starts them: the gateway is the entry
# point and spawns its local worker (GATEWAY_WORKER_ADDRESS unset), restarting it if it dies.
# Built from the two component images, so nothing is installed or compiled twice:
#   docker compose -f docker/compose.yaml build
#   docker build -f docker/all-in-one.Dockerfile -t whisperlive-hybrid:latest .
#   docker run -p 8080:8080 -p 5050:5050 -v "$PWD/models:/models:ro" \
#     -e FASTERWHISPER_MODEL=/models/tiny.en whisperlive-hybrid:latest
ARG WORKER_IMAGE=whisperlive-hybrid-worker:latest
ARG GATEWAY_IMAGE=whisperlive-hybrid-gateway:latest

FROM ${GATEWAY_IMAGE} AS gateway

FROM ${WORKER_IMAGE}
USER root
# The gateway decodes uploads with Debian's ffmpeg; Node is the gateway image's own binary
# (official build, needs only glibc and libstdc++, which every Debian base has).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o stt -g stt -m 0700 /data
COPY --from=gateway /usr/local/bin/node /usr/local/bin/node
# The gateway looks for the worker's code beside itself (/app/worker/src, the worker
# image's place for it).
COPY --from=gateway /app/package.json /app/package.json
COPY --from=gateway /app/proto /app/proto
COPY --from=gateway /app/node_modules /app/node_modules
COPY --from=gateway /app/dist /app/dist
COPY --from=gateway /app/gateway/public /app/gateway/public
ENV NODE_ENV=production \
    HTTP_PORT=8080 \
    PORT_WHISPERLIVE=5050 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_WORKER_PYTHON=/opt/venv/bin/python \
    GATEWAY_DATA_DIR=/data
# Jobs: the SQLite database and the queued audio (mount a volume to keep them).
VOLUME /data
USER stt
EXPOSE 8080 5050
HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/gateway/main.js"]
