# The Python worker: owns the one Whisper model and serves the stt.v1 gRPC API.
# Thin wrapper around the same entry point CI exercises (`python -m stt_worker`).
#   docker build -f docker/worker.Dockerfile --build-arg DEVICE=cuda .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# BACKEND picks the engine whose runtime is installed: faster_whisper (CTranslate2),
# openvino, or tensorrt. DEVICE=cuda adds the CUDA 12 cuBLAS/cuDNN 9 wheels CTranslate2 needs.
ARG BACKEND=faster_whisper
ARG DEVICE=cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY worker/requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install -r /tmp/requirements.lock \
 && if [ "$BACKEND" = "openvino" ]; then /opt/venv/bin/pip install openvino-genai==2026.4.1.0; fi \
 && if [ "$DEVICE" = "cuda" ]; then /opt/venv/bin/pip install nvidia-cublas-cu12 'nvidia-cudnn-cu12==9.*'; fi

FROM ${PYTHON_IMAGE}
ARG BACKEND=faster_whisper
RUN useradd --create-home --uid 10001 stt
COPY --from=build /opt/venv /opt/venv
COPY worker/src /app/worker/src
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/worker/src \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/models \
    WORKER_ENGINE__BACKEND=${BACKEND} \
    WORKER_HOST=0.0.0.0 \
    WORKER_PORT=50051
# pip-installed CUDA libraries live inside the venv; let CTranslate2 find them (harmless on CPU).
RUN site=$(python -c 'import site; print(site.getsitepackages()[0])') \
 && echo "export LD_LIBRARY_PATH=$site/nvidia/cublas/lib:$site/nvidia/cudnn/lib" > /etc/profile.d/cuda-libs.sh \
 && mkdir -p /models && chown stt /models
ENV LD_LIBRARY_PATH=/opt/venv/lib/python3.11/site-packages/nvidia/cublas/lib:/opt/venv/lib/python3.11/site-packages/nvidia/cudnn/lib
USER stt
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-m", "stt_worker.healthcheck", "--address", "127.0.0.1:50051"]
CMD ["python", "-m", "stt_worker"]
