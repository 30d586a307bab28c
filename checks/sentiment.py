"""Checks in the overall sentiment: each enabled check that has run counts as a service.

services/sentiment.py asks its registered sources for entries; this is the checks'
source, cached for a few seconds (and dropped when a check changes state), so the
overall answer stays one cache read per source under load.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db import transaction

from checks.models import Check
from services import sentiment
from services.signals import sentiment_changed

log = logging.getLogger(__name__)

CACHE_KEY = "sentiment:checks"
# A result that changes no state (only lastCheck) may show this late.
CACHE_SECONDS = 10


def entries() -> list[dict[str, Any]]:
    try:
        cached = cache.get(CACHE_KEY)
    except Exception:
        log.warning("sentiment cache unavailable, reading the database", exc_info=True)
        cached = None
    if cached is not None:
        return list(cached)
    fresh = [check.sentiment_entry() for check in Check.objects.filter(enabled=True, last_result_at__isnull=False)]
    try:
        cache.set(CACHE_KEY, fresh, timeout=CACHE_SECONDS)
    except Exception:
        log.warning("sentiment cache unavailable", exc_info=True)
    return fresh


def forget(**kwargs: Any) -> None:
    def drop() -> None:
        try:
            cache.delete(CACHE_KEY)
        except Exception:
            log.warning("sentiment cache unavailable", exc_info=True)

    transaction.on_commit(drop)


def check_deleted(sender: Any, instance: Check, **kwargs: Any) -> None:
    instance.forget_alert()
    forget()


def register() -> None:
    sentiment.add_source(entries)
    sentiment_changed.connect(forget, sender=Check, dispatch_uid="checks-sentiment-forget")
