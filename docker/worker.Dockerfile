# The Python worker: owns the one Whisper model and serves the stt.v1 gRPC API.
# Thin wrapper around the same entry point CI exercises (`python -m stt_worker`).
#   docker build -f docker/worker.Dockerfile --build-arg DEVICE=cuda .
# PYTHON_IMAGE: the official image by default; any Debian bookworm image with python3.11
# and its venv module works (scripts/container_bases.sh builds one where registries
# cannot be reached). Only `python3` is assumed, not the official image's `python`.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# One stage: every dependency installs as a wheel (nothing to compile), so a build stage
# would only copy the 500 MB venv once more.
FROM ${PYTHON_IMAGE}
# BACKEND picks the engine whose runtime is installed: faster_whisper (CTranslate2) or
# openvino (tensorrt has its own image: docker/worker-tensorrt.Dockerfile). DEVICE=cuda adds
# the CUDA 12 cuBLAS/cuDNN 9 wheels CTranslate2 needs.
ARG BACKEND=faster_whisper
ARG DEVICE=cpu
# A fixed uid, the same in every image of this project, so a host directory mounted at
# /models only needs to be readable by it (or by everyone).
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin stt \
 && mkdir -p /models /home/stt/.cache/huggingface \
 && chown stt:stt /home/stt/.cache/huggingface
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY worker/requirements.lock worker/requirements-openvino.lock /opt/
# Secret `ca_bundle` (optional): the CA bundle pip trusts, for builds behind a
# TLS-inspecting proxy (`--secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt`);
# it is not kept in the image.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -f /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
 && if [ "$BACKEND" = "tensorrt" ]; then echo "BACKEND=tensorrt is built from docker/worker-tensorrt.Dockerfile" >&2; exit 1; fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --quiet -r /opt/requirements.lock \
 && if [ "$BACKEND" = "openvino" ]; then /opt/venv/bin/pip install --quiet -r /opt/requirements-openvino.lock; fi \
 && if [ "$DEVICE" = "cuda" ]; then /opt/venv/bin/pip install --quiet nvidia-cublas-cu12 'nvidia-cudnn-cu12==9.*'; fi
COPY worker/src /app/worker/src
WORKDIR /app
# HF_HOME: where faster-whisper downloads a model given by size name (compose keeps it in
# a volume); local models are mounted read-only at /models (FASTERWHISPER_MODEL=/models/…).
# LD_LIBRARY_PATH: the pip-installed CUDA libraries (DEVICE=cuda) live inside the venv,
# where CTranslate2 does not look; harmless on CPU.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/worker/src \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/home/stt/.cache/huggingface \
    WORKER_ENGINE__BACKEND=${BACKEND} \
    WORKER_HOST=0.0.0.0 \
    WORKER_PORT=50051 \
    WORKER_METRICS_PORT=9400 \
    LD_LIBRARY_PATH=/opt/venv/lib/python3.11/site-packages/nvidia/cublas/lib:/opt/venv/lib/python3.11/site-packages/nvidia/cudnn/lib
USER stt
EXPOSE 50051 9400
# Healthy only while the model is loaded and the worker is not draining (health service
# ""), checked without loading the engine (stt_worker.healthcheck). Loading a model
# counts against the start period: a first download on a slow line can take minutes.
HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 \
  CMD ["python", "-m", "stt_worker.healthcheck", "--timeout", "3"]
CMD ["python", "-m", "stt_worker"]
