"""The public status page: no login, cached, only what an admin marked public."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from dashboard.sparkline import sparkline
from services.sentiment import Sentiment
from services.status_page import cached_public_status

PAGE_KEY = "status-page:html"
BADGE_COLORS = {Sentiment.HEALTHY: "brightgreen", Sentiment.DEGRADED: "yellow", Sentiment.UNHEALTHY: "red"}


def _cacheable(response: HttpResponse) -> HttpResponse:
    seconds = settings.STATUS_PAGE_CACHE_SECONDS
    if seconds:
        patch_cache_control(response, public=True, max_age=seconds)
    else:
        patch_cache_control(response, no_cache=True)
    return response


def with_sparklines(status: dict[str, Any]) -> dict[str, Any]:
    """The page's context with each check's day of latency as sparkline coordinates."""
    components = [
        {**c, "spark": sparkline(c["latency"], width=160, height=28)} if c.get("latency") else c
        for c in status["components"]
    ]
    return {**status, "components": components, "poll_seconds": settings.STATUS_PAGE_POLL_SECONDS}


@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    timeout = settings.STATUS_PAGE_CACHE_SECONDS
    html = cache.get(PAGE_KEY) if timeout else None
    if html is None:
        html = render_to_string("services/status_page.html", with_sparklines(cached_public_status()))
        if timeout:
            cache.set(PAGE_KEY, html, timeout)
    return _cacheable(HttpResponse(html))


@require_GET
def badge(request: HttpRequest) -> HttpResponse:
    """A shields.io endpoint badge: https://img.shields.io/endpoint?url=<hub>/status/badge.json"""
    status = cached_public_status()
    return _cacheable(
        JsonResponse(
            {
                "schemaVersion": 1,
                "label": status["title"].lower(),
                "message": status["overall_words"].lower(),
                "color": BADGE_COLORS[status["overall"]],
            }
        )
    )


@require_GET
def summary(request: HttpRequest) -> HttpResponse:
    """The page as JSON: overall status, public components with 90-day uptime, incidents."""
    status = cached_public_status()
    return _cacheable(
        JsonResponse(
            {
                "status": status["overall"],
                "description": status["overall_words"],
                "components": [
                    {
                        "name": c["name"],
                        "kind": c["kind"],
                        "status": c["css"],
                        "uptime90d": None if c["uptime"] is None else round(c["uptime"] * 100, 3),
                    }
                    for c in status["components"]
                ],
                "incidents": [
                    {
                        "title": i["title"],
                        "severity": i["severity"],
                        "startedAt": i["started_at"],
                        "endedAt": i["ended_at"],
                        **({"message": i["message"]} if i["message"] else {}),
                    }
                    for i in status["incidents"]
                ],
                "generatedAt": status["generated_at"],
            }
        )
    )
