"""The host page's charts: which series each draws, and the text values shown beside it.

The browser draws the lines (static/js/charts.js reads the same keys and labels); the
numbers beside each chart are rendered here so they read without JavaScript and to
screen readers, and the browser recomputes them from the same data when a report arrives.

"now" is the newest report in the range (what the summary above the charts shows),
average and maximum are over the range's points.
"""

from __future__ import annotations

from typing import Any

from dashboard.templatetags.dashboard import MISSING, rate

_FORMATS = {
    "percent": lambda v: f"{v:.1f}%",
    "load": lambda v: f"{v:.2f}",
    "rate": rate,
}

# (id, title, unit) in page order.
CHARTS = [
    ("cpu", "CPU", "percent"),
    ("memory", "Memory and swap", "percent"),
    ("load", "Load", "load"),
    ("disks", "Disk usage", "percent"),
    ("diskio", "Disk I/O", "rate"),
    ("network", "Network", "rate"),
]


def chart_lines(chart_id: str, history: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """A chart's lines as (label, values) from a history-shaped dict (a range or one point)."""
    series, detail = history["series"], history["detail"]
    if chart_id == "cpu":
        cores = [(f"core {i}", values) for i, values in enumerate(detail["cores"])]
        return [("total", series["cpu_percent"]), ("peak", series["cpu_max"]), *cores]
    if chart_id == "memory":
        return [("memory", series["memory_percent"]), ("swap", series["swap_percent"])]
    if chart_id == "load":
        return [(f"{m} min", series[f"load_{m}"]) for m in (1, 5, 15)]
    if chart_id == "disks":
        return sorted(detail["disks"].items())
    if chart_id == "diskio":
        return [("read", series["disk_read_bps"]), ("write", series["disk_write_bps"])]
    return [
        (f"{nic} {direction}", values[key])
        for nic, values in sorted(detail["network"].items())
        for direction, key in (("in", "rx"), ("out", "tx"))
    ]


def _group(chart_id: str, label: str) -> str:
    """What folds as one: an interface's two lines together, anything else alone."""
    return label.rsplit(" ", 1)[0] if chart_id == "network" else label


def _idle_groups(chart_id: str, lines: list[tuple[str, list[float | None]]]) -> set[str]:
    """Mounts and interfaces that carried nothing in the range (all missing or zero), e.g. `ifb0`."""
    if chart_id not in ("disks", "network"):
        return set()
    busy = {_group(chart_id, label) for label, values in lines if any(values)}
    return {_group(chart_id, label) for label, _ in lines} - busy


def _stats(label: str, values: list[float | None], now: float | None, unit: str) -> dict[str, str]:
    fmt = _FORMATS[unit]
    present = [v for v in values if v is not None]
    return {
        "label": label,
        "now": fmt(now) if now is not None else MISSING,
        "avg": fmt(sum(present) / len(present)) if present else MISSING,
        "max": fmt(max(present)) if present else MISSING,
    }


def chart_tables(history: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per chart, in page order: id, title, unit, a row of figures per series,
    and the idle rows (folded away by default) apart."""
    latest = history.get("latest")
    tables = []
    for chart_id, title, unit in CHARTS:
        lines = chart_lines(chart_id, history)
        now = {label: values[0] for label, values in chart_lines(chart_id, latest)} if latest else {}
        idle = _idle_groups(chart_id, lines)
        rows = [(label, _stats(label, values, now.get(label), unit)) for label, values in lines]
        tables.append(
            {
                "id": chart_id,
                "title": title,
                "unit": unit,
                "rows": [row for label, row in rows if _group(chart_id, label) not in idle],
                "idle_rows": [row for label, row in rows if _group(chart_id, label) in idle],
                "idle_names": sorted(idle),
            }
        )
    return tables
