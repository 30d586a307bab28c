"""The latest metrics of every host, kept in the cache so lists never scan the samples table.

Local memory by default, Redis when REDIS_URL is set. A miss (after a restart of
the local-memory cache, or Redis being down) falls back to the newest stored sample.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache

from metrics.models import MetricSample

log = logging.getLogger(__name__)


def _key(host_id: int) -> str:
    return f"latest:{host_id}"


def remember(sample: MetricSample) -> None:
    summary = sample.summary()
    try:
        current = cache.get(_key(sample.host_id))
        # A spooled report replayed after a newer one must not replace the newer values.
        if current and current.get("collected_at", "") > summary["collected_at"]:
            return
        cache.set(_key(sample.host_id), summary, timeout=None)
    except Exception:  # the cache is an accelerator: ingest goes on without it
        log.warning("latest-metrics cache unavailable", exc_info=True)


def latest_for(host_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = list(host_ids)
    try:
        found = cache.get_many([_key(i) for i in ids])
    except Exception:
        log.warning("latest-metrics cache unavailable, reading the database", exc_info=True)
        found = {}
    result: dict[int, dict[str, Any]] = {i: found[_key(i)] for i in ids if _key(i) in found}
    missing = [i for i in ids if i not in result]
    if missing:
        for sample in newest_samples(missing):
            result[sample.host_id] = sample.summary()
        # Hosts that never reported are remembered as empty, so they cost no query next time.
        fill = {_key(i): result.get(i, {}) for i in missing}
        try:
            cache.set_many(fill, timeout=None)
        except Exception:
            log.warning("latest-metrics cache unavailable", exc_info=True)
    return {i: summary for i, summary in result.items() if summary}


def newest_samples(host_ids: list[int]) -> list[MetricSample]:
    """The newest sample of each host, one indexed lookup per host (no table scan)."""
    samples = []
    for host_id in host_ids:
        sample = MetricSample.objects.filter(host_id=host_id).order_by("-collected_at").first()
        if sample is not None:
            samples.append(sample)
    return samples
