"""Number formats the dashboard shares with its JavaScript (static/js/dashboard.js formats the same way)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

register = template.Library()

# Shown where a value is unknown (an en dash, as in print).
MISSING = "\u2013"
_UNITS = ["B", "KB", "MB", "GB", "TB", "PB"]


@register.filter
def size(value: float | None) -> str:
    """Bytes in binary steps: 1536 -> '1.5 KB'."""
    if value is None:
        return MISSING
    amount = float(value)
    for unit in _UNITS:
        if abs(amount) < 1024 or unit == _UNITS[-1]:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


@register.filter
def rate(value: float | None) -> str:
    """Bytes per second: 2048 -> '2.0 KB/s'."""
    return MISSING if value is None else f"{size(value)}/s"


@register.filter
def duration(seconds: float | None) -> str:
    """Uptime: the two largest units, '3 d 4 h', '5 h 12 min', '42 s'."""
    if seconds is None:
        return MISSING
    left = int(seconds)
    parts: list[str] = []
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if left >= length or (unit == "s" and not parts):
            parts.append(f"{left // length} {unit}")
            left %= length
    return " ".join(parts[:2])


def _as_datetime(value: datetime | str | None) -> datetime | None:
    # Services report lastCheck as an ISO string; hosts carry datetimes.
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            return None
    return value


@register.filter
def iso(value: datetime | str | None) -> str:
    when = _as_datetime(value)
    return when.isoformat() if when else ""


@register.filter
def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """'7 s ago', '3 min ago', '2 h ago', '4 d ago'; the page's script keeps it counting."""
    when = _as_datetime(value)
    if when is None:
        return "never"
    seconds = max(0, int(((now or timezone.now()) - when).total_seconds()))
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds // length} {unit} ago"
    return f"{seconds} s ago"


@register.filter
def percent(share: float | None) -> str:
    """0.99934 -> '99.93%': two decimals, since 99.9% and 99.99% are different promises."""
    return "\N{EN DASH}" if share is None else f"{share * 100:.2f}%"
