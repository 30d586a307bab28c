"""Each service's last state in the cache: written after its transaction commits, read by the sentiment.

Kept apart from services/sentiment.py so the model can write it without importing the module that reads models.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

log = logging.getLogger("services.sentiment")

SERVICE_NAMES_KEY = "sentiment:service-names"
SERVICE_NAMES_SECONDS = 60


def service_key(name: str) -> str:
    return f"sentiment:service:{name}"


def remember_service(entry: dict[str, Any]) -> None:
    """Store a service's new state (called after its transaction commits)."""
    try:
        names = cache.get(SERVICE_NAMES_KEY)
        if names is not None and entry["name"] not in names:
            # A newcomer: drop the list rather than edit it, so two newcomers at once cannot lose one.
            cache.delete(SERVICE_NAMES_KEY)
        current = cache.get(service_key(entry["name"]))
        # Two commits for one service may finish in either order; keep the newer state.
        if current is None or current["version"] <= entry["version"]:
            cache.set(service_key(entry["name"]), entry, timeout=None)
    except Exception:  # the cache is an accelerator; the next miss rebuilds from the database
        log.warning("sentiment cache unavailable", exc_info=True)


def forget_services(*names: str) -> None:
    """After an admin edit or delete: the next read rebuilds these entries and the list from the database."""
    try:
        cache.delete_many([SERVICE_NAMES_KEY, *(service_key(n) for n in names)])
    except Exception:
        log.warning("sentiment cache unavailable", exc_info=True)


# The overrides in force or to come (services.models.ServiceOverride), as {name: (status, until)}:
# the sentiment reads them on every answer, so they are cached until one changes.
OVERRIDES_KEY = "sentiment:overrides"


def forget_overrides() -> None:
    try:
        cache.delete(OVERRIDES_KEY)
    except Exception:
        log.warning("sentiment cache unavailable", exc_info=True)
