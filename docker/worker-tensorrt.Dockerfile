# The Python worker with the TensorRT-LLM backend (NVIDIA GPUs): WORKER_ENGINE__BACKEND=tensorrt,
# serving an engine directory built by scripts/build_tensorrt_engines.py. The image carries
# that script and TensorRT-LLM's Whisper converter too, so engines are built where they run
# (TensorRT engines are specific to the GPU model and the TensorRT-LLM version).
#   docker build -f docker/worker-tensorrt.Dockerfile -t whisperlive-hybrid-worker:tensorrt .
# (docker/compose.tensorrt.yaml builds and runs it; see README, TensorRT-LLM.)
#
# BASE_IMAGE: NVIDIA's TensorRT-LLM release image by default (CUDA 13, Python 3.12, TensorRT-LLM
# installed, MPI); any image with CUDA 13 and Python 3.12 works (apt installs what is missing,
# pip installs TensorRT-LLM and its PyTorch from TORCH_INDEX).
ARG BASE_IMAGE=nvcr.io/nvidia/tensorrt-llm/release:1.2.1
FROM ${BASE_IMAGE}
ARG TENSORRT_LLM_VERSION=1.2.1
ARG TORCH_INDEX=https://download.pytorch.org/whl/cu130
# The same fixed uid as the other images, so a host directory mounted at /models only needs
# to be readable by it.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin stt \
 && mkdir -p /models /home/stt/.cache/huggingface \
 && chown stt:stt /home/stt/.cache/huggingface
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DEBIAN_FRONTEND=noninteractive
# A plain CUDA image lacks venv, pip and the MPI library TensorRT-LLM links against.
# (TensorRT-LLM cannot be imported while building: there is no GPU driver; pip's metadata
# says whether it is there.)
RUN if ! python3 -m pip show --quiet tensorrt-llm >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1; then \
      apt-get update -qq \
      && apt-get install -y -qq --no-install-recommends python3-venv python3-pip libopenmpi-dev >/dev/null \
      && rm -rf /var/lib/apt/lists/*; \
    fi
COPY worker/requirements.lock /opt/
# TensorRT-LLM first (a no-op on the release image, whose copy the venv sees through
# --system-site-packages), then the worker's pinned packages without their dependencies:
# TensorRT-LLM 1.2 pins numpy<2 and keeps its numpy (the worker's unit tests pass on numpy 1.26.4).
# `pip check` lists what the two sets disagree on, for the build log.
RUN --mount=type=secret,id=ca_bundle,required=false \
    if [ -f /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
 && python3 -m venv --system-site-packages /opt/venv \
 && /opt/venv/bin/pip install --quiet --extra-index-url "$TORCH_INDEX" "tensorrt-llm==${TENSORRT_LLM_VERSION}" \
 && grep -v '^numpy==' /opt/requirements.lock > /opt/requirements-worker.txt \
 && /opt/venv/bin/pip install --quiet --no-deps -r /opt/requirements-worker.txt \
 && { /opt/venv/bin/pip check || true; } \
 && /opt/venv/bin/pip show tensorrt-llm | grep '^Version: ' \
 && /opt/venv/bin/python -c "import faster_whisper, grpc"
# TensorRT-LLM's Whisper converter (examples/models/core/whisper of the same release; the
# wheel does not carry the examples), for scripts/build_tensorrt_engines.py.
ADD --chmod=644 https://raw.githubusercontent.com/NVIDIA/TensorRT-LLM/v${TENSORRT_LLM_VERSION}/examples/models/core/whisper/convert_checkpoint.py /opt/tensorrt_llm/whisper/convert_checkpoint.py
COPY worker/src /app/worker/src
COPY scripts/build_tensorrt_engines.py /app/scripts/
WORKDIR /app
# FASTERWHISPER_MODEL / WORKER_ENGINE__MODEL: the engine directory, mounted read-only under
# /models (e.g. /models/large-v3-turbo-trt).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/worker/src \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/home/stt/.cache/huggingface \
    TRTLLM_WHISPER_EXAMPLE=/opt/tensorrt_llm/whisper \
    WORKER_ENGINE__BACKEND=tensorrt \
    WORKER_ENGINE__DEVICE=cuda \
    WORKER_HOST=0.0.0.0 \
    WORKER_PORT=50051 \
    WORKER_METRICS_PORT=9400
USER stt
EXPOSE 50051 9400
# Healthy only while the engines are loaded and the worker is not draining (health service
# ""), checked without loading the engine (stt_worker.healthcheck). Loading engines and the
# warm-up count against the start period.
HEALTHCHECK --interval=10s --timeout=5s --start-period=300s --retries=3 \
  CMD ["python", "-m", "stt_worker.healthcheck", "--timeout", "3"]
CMD ["python", "-m", "stt_worker"]
