# syntax=docker/dockerfile:1
# The operator image: `docker build -t <registry>/milvus-snapshot-operator:<version> .`
# Build stage: a venv with the project and its pinned runtime dependencies (binary wheels only, so no compiler
# is needed anywhere). Final stage: the same slim Python, the venv, a numeric non-root user, nothing else.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ONLY_BINARY=:all:
# A passwd entry for the numeric user, copied into the final stage: Kopf calls getpass.getuser() for its
# identity unless POD_ID is set (the chart sets it), and that fails for a uid /etc/passwd does not know.
# Named `mso`: Debian's base-passwd already has a group `operator` (gid 37).
RUN python -m venv /opt/venv \
    && groupadd --gid 65532 mso \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin mso
WORKDIR /src
COPY pyproject.toml ./
COPY operator/ ./operator/
# setuptools builds our own pure-Python package from source; every dependency must come as a wheel.
RUN /opt/venv/bin/pip install . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=build /etc/passwd /etc/group /etc/
COPY --from=build /opt/venv /opt/venv
# Numeric IDs, so Kubernetes can verify runAsNonRoot; the chart's podSecurityContext uses the same ones.
USER 65532:65532
# Kopf's health endpoint (--liveness http://0.0.0.0:8080/healthz) and Prometheus /metrics (default :9090).
EXPOSE 8080 9090
ENTRYPOINT ["python", "-m", "milvus_snapshot_operator"]
CMD ["--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz"]
