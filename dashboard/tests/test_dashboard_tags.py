"""Number formats on cards and charts."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from dashboard.templatetags.dashboard import ago, duration, iso, rate, size


def test_size_and_rate_use_binary_steps() -> None:
    assert size(512) == "512 B"
    assert size(1536) == "1.5 KB"
    assert rate(3 * 1024**2) == "3.0 MB/s"
    assert rate(None) == "\u2013"


def test_duration_shows_the_two_largest_units() -> None:
    assert duration(42) == "42 s"
    assert duration(3 * 86400 + 4 * 3600 + 5) == "3 d 4 h"
    assert duration(5 * 3600 + 12 * 60) == "5 h 12 min"


def test_ago_counts_seconds_then_larger_units() -> None:
    now = timezone.now()
    assert ago(now - timedelta(seconds=7), now) == "7 s ago"
    assert ago(now - timedelta(minutes=3, seconds=5), now) == "3 min ago"
    assert ago(now - timedelta(days=2), now) == "2 d ago"
    assert ago(None) == "never"


def test_ago_and_iso_accept_iso_strings_from_services() -> None:
    assert iso("2026-01-10T12:00:00Z") == "2026-01-10T12:00:00+00:00"
    assert ago("not a date") == "never"
