"""What each rule metric reads from a sample: (subject, value) pairs.

Subjects name the part of the machine a value belongs to (a mount, a sensor);
host-wide metrics have the empty subject.
"""

from __future__ import annotations

from collections.abc import Callable

from metrics.models import MetricSample

BITS_PER_BYTE = 8
MEGABIT = 1_000_000

Reading = tuple[str, float]


def _cpu(sample: MetricSample, cpu_count: int) -> list[Reading]:
    return [("", sample.cpu_percent)]


def _memory(sample: MetricSample, cpu_count: int) -> list[Reading]:
    return [("", sample.memory_percent)]


def _swap(sample: MetricSample, cpu_count: int) -> list[Reading]:
    swap_total = (sample.detail.get("swap") or {}).get("total", 0)
    # A host without swap has nothing to alert about (its "0 %" means nothing).
    return [("", sample.swap_percent)] if swap_total else []


def _load(sample: MetricSample, cpu_count: int) -> list[Reading]:
    return [("", sample.load_5 / max(cpu_count, 1))]


def _disk(sample: MetricSample, cpu_count: int) -> list[Reading]:
    return [(disk["mount"], float(disk["percent"])) for disk in sample.detail.get("disks", [])]


def _network_in(sample: MetricSample, cpu_count: int) -> list[Reading]:
    return [("", sample.net_rx_bps * BITS_PER_BYTE / MEGABIT)]


def _network_out(sample: MetricSample, cpu_count: int) -> list[Reading]:
    return [("", sample.net_tx_bps * BITS_PER_BYTE / MEGABIT)]


def _temperature(sample: MetricSample, cpu_count: int) -> list[Reading]:
    return [(t["sensor"], float(t["celsius"])) for t in sample.detail.get("temperatures", [])]


READERS: dict[str, Callable[[MetricSample, int], list[Reading]]] = {
    "cpu": _cpu,
    "memory": _memory,
    "swap": _swap,
    "load": _load,
    "disk": _disk,
    "network_in": _network_in,
    "network_out": _network_out,
    "temperature": _temperature,
}

UNITS = {
    "cpu": "%",
    "memory": "%",
    "swap": "%",
    "load": " per core",
    "disk": "%",
    "network_in": " Mbit/s",
    "network_out": " Mbit/s",
    "temperature": " °C",
}


def readings(metric: str, sample: MetricSample, cpu_count: int | None) -> list[Reading]:
    return READERS[metric](sample, cpu_count or 1)


def describe_reading(metric: str, subject: str, value: float, level: float) -> str:
    where = f" on {subject}" if subject else ""
    return f"{metric}{where} at {value:.1f}{UNITS[metric]} (level {level:g})"
