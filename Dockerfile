# Podium's own image: the web server (daphne), the sandbox worker, the culler and the operator commands.
#
#   docker build -t podium/server:1 .                                       # where a registry answers
#   docker build -t podium/server:1 --build-arg PYTHON_IMAGE=podium-standin/python:3.11-slim .   # offline
#
# The base image is a build argument: the official Python image by default, or the local stand-in that
# `manage.py sandbox prepare` builds on machines with no registry (scripts/compose-up.sh picks it).
# The build context must hold node_modules/@xterm (`npm ci`, which scripts/setup.sh runs): the terminal
# under each block is collected with the other static files.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# mysqlclient compiles against MariaDB's client library; the stand-in's Python (Debian's) also needs its headers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev pkg-config default-libmysqlclient-dev \
 && if [ ! -e "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then \
        apt-get install -y --no-install-recommends python3-dev; fi \
 && rm -rf /var/lib/apt/lists/*
COPY requirements-runtime.txt /tmp/
RUN python3 -m venv /opt/podium \
 && /opt/podium/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements-runtime.txt

FROM ${PYTHON_IMAGE}
# libmariadb3: mysqlclient at run time. docker.io: the docker CLI that `sandbox prepare` builds images with.
# iptables: the sandbox firewall (the compose file's `firewall` service, in the host's network namespace).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmariadb3 docker.io iptables ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/podium --create-home --shell /usr/sbin/nologin podium
COPY --from=build /opt/podium /opt/podium
ENV PATH=/opt/podium/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PODIUM_STATIC=collected \
    PODIUM_VAR_DIR=/var/lib/podium \
    PODIUM_SLIDES_DIR=/app/slides \
    PODIUM_INCLUDE_ROOT=/app
WORKDIR /app
COPY . /app
# Static files are collected once, here; WhiteNoise serves them (PODIUM_STATIC=collected). The secret only
# lets settings load for this step: a production container refuses to start without its own SECRET_KEY.
RUN PODIUM_ENV=development SECRET_KEY=collectstatic-only PODIUM_VAR_DIR=/tmp/podium-build \
    python manage.py collectstatic --noinput -v 0 \
 && rm -rf /tmp/podium-build \
 && python -m compileall -q /app /opt/podium >/dev/null
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
# --proxy-headers: the browser's address comes from the proxy's X-Forwarded-For (rate limits, /metrics networks).
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "--proxy-headers", "config.asgi:application"]
