"""The host page's charts: which series each draws, and the text values shown beside it.

The browser draws the lines (static/js/charts.js reads the same keys); the numbers
beside each chart are rendered here so they read without JavaScript and to screen readers.
"""

from __future__ import annotations

from typing import Any

from dashboard.templatetags.dashboard import MISSING, rate


def _stats(label: str, values: list[float | None], unit: str) -> dict[str, str]:
    present = [v for v in values if v is not None]
    if not present:
        return {"label": label, "now": MISSING, "avg": MISSING, "max": MISSING}
    fmt = _FORMATS[unit]
    return {"label": label, "now": fmt(present[-1]), "avg": fmt(sum(present) / len(present)), "max": fmt(max(present))}


_FORMATS = {
    "percent": lambda v: f"{v:.1f}%",
    "load": lambda v: f"{v:.2f}",
    "rate": rate,
}


def chart_tables(history: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per chart, in page order: id, title, unit and a row of figures per series."""
    series, detail = history["series"], history["detail"]
    cores = detail["cores"]
    return [
        {
            "id": "cpu",
            "title": "CPU",
            "unit": "percent",
            "rows": [
                _stats("total", series["cpu_percent"], "percent"),
                _stats("peak", series["cpu_max"], "percent"),
                *[_stats(f"core {i}", values, "percent") for i, values in enumerate(cores)],
            ],
        },
        {
            "id": "memory",
            "title": "Memory and swap",
            "unit": "percent",
            "rows": [
                _stats("memory", series["memory_percent"], "percent"),
                _stats("swap", series["swap_percent"], "percent"),
            ],
        },
        {
            "id": "load",
            "title": "Load",
            "unit": "load",
            "rows": [_stats(f"{m} min", series[f"load_{m}"], "load") for m in (1, 5, 15)],
        },
        {
            "id": "disks",
            "title": "Disk usage",
            "unit": "percent",
            "rows": [_stats(mount, values, "percent") for mount, values in sorted(detail["disks"].items())],
        },
        {
            "id": "diskio",
            "title": "Disk I/O",
            "unit": "rate",
            "rows": [
                _stats("read", series["disk_read_bps"], "rate"),
                _stats("write", series["disk_write_bps"], "rate"),
            ],
        },
        {
            "id": "network",
            "title": "Network",
            "unit": "rate",
            "rows": [
                _stats(f"{nic} {direction}", values[key], "rate")
                for nic, values in sorted(detail["network"].items())
                for direction, key in (("in", "rx"), ("out", "tx"))
            ],
        },
    ]
