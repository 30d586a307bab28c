# The statusdash hub: Daphne (web), or Celery (worker, beat) with another command.
# Built by `make build`; run by docker-compose.yml (see docs/deploy.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    DATA_DIR=/data \
    VAULT_PATH=/data/vault \
    PROMETHEUS_MULTIPROC_DIR=/data/cache/prometheus \
    STATUS_PORT=5000

# sqlite3 and the PostgreSQL client serve `manage.py dbshell` and backups inside the container.
RUN apt-get update \
    && apt-get install -y --no-install-recommends sqlite3 postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 statusdash \
    && useradd --system --uid 10001 --gid statusdash --home-dir /app --shell /usr/sbin/nologin statusdash

WORKDIR /app
# Dependencies first: this layer is rebuilt only when requirements.txt changes, not on every code edit.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# Hashed, compressed static files for WhiteNoise. Throwaway secrets: settings need some to load.
RUN DATA_DIR=/tmp/build SECRET_KEY=collectstatic STATUS_JWT_SECRET=collectstatic-collectstatic-collectstatic \
        python manage.py collectstatic --no-input -v 0 \
    && rm -rf /tmp/build \
    && mkdir -p /data/db /data/backups /data/cache /data/vault \
    && chown -R statusdash:statusdash /data

USER statusdash
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('STATUS_PORT', '5000'), timeout=4)"
CMD ["sh", "-c", "exec python -m statusdash.lib.server -b 0.0.0.0 -p \"$STATUS_PORT\" statusdash.asgi:application"]
