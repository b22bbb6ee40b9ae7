# pitcrew serve in a container. Build: docker build -t pitcrew .   (see docs/deploy.md)
# Two stages: the package is built and installed into a virtualenv in the first, and only that
# virtualenv is copied into the second (no source tree, no pip cache, no build backend).

FROM python:3.11-slim AS build

WORKDIR /src
# Only what the wheel is built from (pyproject names README.md as the long description).
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY control_plane ./control_plane
COPY handlers ./handlers
COPY knowledge ./knowledge
# Every dependency ships manylinux wheels for CPython 3.11, so no compiler is needed here either.
RUN python -m venv /opt/pitcrew/.venv \
    && /opt/pitcrew/.venv/bin/pip install --no-cache-dir --disable-pip-version-check .


FROM python:3.11-slim

# A fixed uid/gid, so a bind-mounted data directory can be chowned to it on the host (chown 10001:10001).
RUN groupadd --system --gid 10001 pitcrew \
    && useradd --system --uid 10001 --gid pitcrew --home-dir /data --no-create-home --shell /usr/sbin/nologin pitcrew \
    && install -d -o pitcrew -g pitcrew -m 0750 /data

COPY --from=build /opt/pitcrew/.venv /opt/pitcrew/.venv

# PATH: `docker exec <container> pitcrew ...` finds the console script. The rest are pitcrew settings
# (bot/settings.py); both the database and the logs live in the volume.
ENV PATH=/opt/pitcrew/.venv/bin:$PATH \
    DATABASE_URL=sqlite:////data/pitcrew.db \
    LOG_DIR=/data/logs \
    PORT=3000

# A relative path (a `.env`, the schedule lock of a non-SQLite database) also lands in the volume.
WORKDIR /data
VOLUME ["/data"]
# Numeric, so that a runtime (Kubernetes runAsNonRoot) can tell it is not root without /etc/passwd.
USER 10001:10001

# HTTP Events API and /healthz (Socket Mode opens no port; see docs/deploy.md for its health check).
EXPOSE 3000

# slim images have no curl; urllib fails (exit 1) on a refused connection, a timeout or a non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

# serve finishes the answers in flight on SIGTERM (SHUTDOWN_GRACE_S, 20 s by default): give
# `docker stop` more time than that (docker run --stop-timeout 30).
STOPSIGNAL SIGTERM

# Exec form: pitcrew is PID 1 and receives the stop signal itself. Other commands replace CMD:
# docker run --rm -v pitcrew-data:/data --env-file .env pitcrew snapshots rebuild
ENTRYPOINT ["pitcrew"]
CMD ["serve"]
