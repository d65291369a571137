# loss-service image: a builder stage that fills a virtualenv, a slim runtime stage that runs it.
#
# The base is a build argument so that a machine without a registry can build on a local image
# (see deploy/container-test.sh). Any Debian-like base with python3 >= 3.11 and venv works.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder

# PIP_CERT may point at a CA bundle mounted into the build (a TLS-intercepting proxy) and
# PIP_INDEX_URL at a mirror; unset, pip uses its defaults. The lock's hashes hold either way.
# PIP_NO_CACHE_DIR keeps downloaded wheels out of the layers.
ARG PIP_CERT
ARG PIP_INDEX_URL
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# Dependencies first, from the hash-pinned lock alone: this layer is rebuilt only when the lock
# changes, not on every code change.
COPY requirements/runtime.lock /tmp/runtime.lock
RUN pip install --require-hashes --no-deps -r /tmp/runtime.lock

# Then the project itself, without touching the dependencies installed above.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip install --no-deps . \
    && loss-service --help > /dev/null
# matplotlib's font cache, built once here: the running container's root is read-only and its
# user has no home, so matplotlib would otherwise rebuild it in a temporary folder at every start.
RUN MPLCONFIGDIR=/opt/matplotlib python3 -c "import matplotlib.font_manager"


FROM ${BASE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="loss-service" \
      org.opencontainers.image.description="Scores predictions against targets: loss values, gradients and mergeable aggregates."

# A fixed uid/gid so that Kubernetes' runAsNonRoot can check it and volumes can be chowned to it.
RUN groupadd --system --gid 10001 loss \
    && useradd --system --uid 10001 --gid loss --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin loss

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:10001
EXPOSE 8000

# The image's own Python, so no curl in the image; any failure (refused, timeout, non-2xx) is exit 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

CMD ["loss-service", "serve", "--host", "0.0.0.0", "--port", "8000"]
