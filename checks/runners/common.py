"""Small helpers the runners share."""

from __future__ import annotations

import time


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a time.perf_counter() value)."""
    return round((time.perf_counter() - started) * 1000, 2)
