# syntax=docker/dockerfile:1
# Grokweb image: daphne serves HTTP + websockets; the same image runs the
# Celery worker and beat (see docker-compose.yml).

# --- Front-end libraries ------------------------------------------------------
# Installed from the npm registry with the lock file, then copied as browser
# builds into static/vendor/ by scripts/vendor.mjs (nothing from a CDN at run time);
# our own modules (static/js/) are bundled into static/build/ by scripts/build.mjs.
FROM node:20-slim AS vendor
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts/vendor.mjs scripts/build.mjs scripts/
COPY static/js static/js
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && node scripts/vendor.mjs \
 && node scripts/build.mjs

# --- The application ----------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Dependencies first (cached while pyproject.toml is unchanged). The project
# itself installs no packages ([tool.setuptools] packages = []): the code runs from /app.
RUN python -m venv /opt/venv
COPY pyproject.toml /tmp/build/pyproject.toml
RUN pip install /tmp/build && rm -rf /tmp/build

RUN groupadd --system --gid 10001 grokweb \
 && useradd --system --uid 10001 --gid grokweb --home-dir /app --no-create-home --shell /usr/sbin/nologin grokweb \
 && mkdir -p /app/var/media /app/staticfiles \
 && chown -R grokweb:grokweb /app/var /app/staticfiles

WORKDIR /app
COPY --chown=grokweb:grokweb . .
COPY --from=vendor --chown=grokweb:grokweb /src/static/vendor/ static/vendor/
COPY --from=vendor --chown=grokweb:grokweb /src/static/build/ static/build/

USER grokweb

# Hashed, compressed static files for whitenoise. A throwaway SECRET_KEY keeps
# settings from writing one into the image; the real one comes from the environment.
RUN SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput --verbosity 0 \
 && rm -f var/secret_key var/*.sqlite3*

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "scripts/healthcheck.py", "/healthz"]

# One daphne per core on one socket (backlog 4096, 30 s handshake timeout: WS_CONNECT_TIMEOUT_S).
CMD ["python", "scripts/web.py"]
