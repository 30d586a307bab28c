"""GET /health: is the hub able to do its job? For load balancers, Docker and `make status`."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _check_database() -> dict[str, object]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"status": "down", "error": error.__class__.__name__}
    return {"status": "up", "engine": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 2)}


def _check_redis() -> dict[str, object]:
    started = time.perf_counter()
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
    except Exception as error:
        return {"status": "down", "error": error.__class__.__name__}
    return {"status": "up", "ms": round((time.perf_counter() - started) * 1000, 2)}


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 while the database answers; Redis trouble is reported as degraded, still 200,
    because ingest keeps storing without it."""
    checks = {"database": _check_database()}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis()
    if checks["database"]["status"] != "up":
        status, code = "down", 503
    elif any(c["status"] != "up" for c in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JsonResponse({"status": status, "checks": checks}, status=code)
