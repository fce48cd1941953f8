# syntax=docker/dockerfile:1
# gpt2bot image: CPU torch by default; for a CUDA build pass the index of a CUDA torch, e.g.
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 -t gpt2bot:cuda .
# Data (SQLite, if used) lives in /data and the Hugging Face cache in /cache: mount volumes there.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with torch first, then gpt2bot and every platform ----------
FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv \
    && pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY adapters ./adapters
COPY storage ./storage
# torch is already there at the pinned version, so this cannot pull another one
# hadolint ignore=DL3013
RUN pip install ".[all]" \
    && python -c "import torch, bot; assert torch.__version__.startswith('${TORCH_VERSION}'), torch.__version__"

# --- runtime: the environment only, as an unprivileged user ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 gpt2bot \
    && useradd --system --uid 10001 --gid gpt2bot --home-dir /data --shell /usr/sbin/nologin gpt2bot \
    && mkdir -p /data /cache \
    && chown gpt2bot:gpt2bot /data /cache
COPY --from=build /opt/venv /opt/venv
COPY deploy/entrypoint.sh /usr/local/bin/gpt2bot-entrypoint
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/cache/huggingface \
    GPT2BOT_STORAGE__URL=sqlite+aiosqlite:////data/gpt2bot.db \
    GPT2BOT_HEALTH__ENABLED=true \
    GPT2BOT_HEALTH__HOST=0.0.0.0 \
    GPT2BOT_HEALTH__PORT=9090 \
    GPT2BOT_SLACK__HOST=0.0.0.0
USER 10001:10001
WORKDIR /data
VOLUME ["/data", "/cache"]
# 9090: /healthz, /readyz, /metrics; 3000: Slack HTTP mode
EXPOSE 9090 3000
# Loading a model can take minutes on a CPU: the start period covers it (/healthz answers during
# the load anyway; /readyz is what a load balancer should ask).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5m --retries=3 CMD ["gpt2bot-entrypoint", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["gpt2bot-entrypoint"]
CMD ["run"]
