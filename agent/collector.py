"""Collect one report in the hub's schema with psutil.

CPU percentages and I/O rates are differences between two samples, so a Collector
keeps the previous sample; call prime() once, wait, then collect() at each interval.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import psutil

from agent import __version__

# File systems with no storage of their own (kernel interfaces, memory, containers).
PSEUDO_FSTYPES = frozenset(
    [
        "autofs",
        "binfmt_misc",
        "bpf",
        "cgroup",
        "cgroup2",
        "configfs",
        "debugfs",
        "devpts",
        "devtmpfs",
        "efivarfs",
        "fusectl",
        "hugetlbfs",
        "mqueue",
        "nsfs",
        "overlay",
        "proc",
        "pstore",
        "ramfs",
        "rpc_pipefs",
        "securityfs",
        "selinuxfs",
        "squashfs",
        "sysfs",
        "tmpfs",
        "tracefs",
        "fuse.lxcfs",
        "fuse.portal",
        "fuse.gvfsd-fuse",
        "fuse.snapfuse",
        "aufs",
    ]
)
SKIPPED_INTERFACES = frozenset({"lo"})
# The hub's limits (metrics/schemas.py): a report past them is refused as a whole,
# so one odd sensor or a host full of veth interfaces must not cost every report.
MAX_ITEMS = 256
MAX_CORES = 1024
CELSIUS_RANGE = (-273.15, 1000.0)


def real_mounts(partitions: Iterable[Any]) -> list[Any]:
    """Keep mounts backed by real storage, one per device.

    Skips pseudo, loop, snap and overlay file systems. A bind mount shows the same
    device twice; the shortest mount point (usually the original) is kept.
    """
    by_device: dict[str, Any] = {}
    for part in partitions:
        if part.fstype in PSEUDO_FSTYPES or not part.fstype:
            continue
        if part.device.startswith("/dev/loop") or part.mountpoint.startswith("/snap/"):
            continue
        kept = by_device.get(part.device)
        if kept is None or len(part.mountpoint) < len(kept.mountpoint):
            by_device[part.device] = part
    return sorted(by_device.values(), key=lambda p: p.mountpoint)


def rate(previous: float, current: float, seconds: float) -> float:
    """Per-second rate of a counter; a counter that went back (wrap, reset) counts as 0."""
    if seconds <= 0 or current < previous:
        return 0.0
    return (current - previous) / seconds


def nic_rates(
    previous: dict[str, tuple[int, int]], current: dict[str, tuple[int, int]], seconds: float
) -> list[dict[str, Any]]:
    """Receive/transmit rates per interface from two {name: (rx, tx)} samples.

    An interface that just appeared has no rate until its second sample; one that
    vanished is dropped.
    """
    rates = []
    for name in sorted(current.keys() & previous.keys()):
        (rx0, tx0), (rx1, tx1) = previous[name], current[name]
        rates.append(
            {
                "interface": name,
                "rx_bytes_per_s": round(rate(rx0, rx1, seconds), 1),
                "tx_bytes_per_s": round(rate(tx0, tx1, seconds), 1),
            }
        )
    return rates


def os_pretty_name(path: str = "/etc/os-release") -> str:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                if key == "PRETTY_NAME":
                    return value.strip("\"'")
    except OSError:
        pass
    return ""


def system_info() -> dict[str, str]:
    uname = os.uname()
    boot = datetime.fromtimestamp(psutil.boot_time(), timezone.utc)
    return {
        "os": (os_pretty_name() or f"{uname.sysname} {uname.release}")[:200],
        "kernel": uname.release[:200],
        "arch": uname.machine[:50],
        "hostname": uname.nodename,
        "agent_version": __version__,
        "boot_time": boot.isoformat(),
    }


class Collector:
    def __init__(self) -> None:
        self._system = system_info()
        self._last_time = 0.0
        self._last_disk: tuple[int, int] | None = None
        self._last_net: dict[str, tuple[int, int]] = {}
        self._last_collected_at: datetime | None = None

    def prime(self) -> None:
        """Take the first sample; CPU and rates in the next collect() are relative to it."""
        psutil.cpu_percent(interval=None)
        psutil.cpu_percent(interval=None, percpu=True)
        self._io_rates(time.monotonic())

    def collect(self) -> dict[str, Any]:
        now = time.monotonic()
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disk_io, network = self._io_rates(now)
        return {
            "collected_at": self._collected_at().isoformat(timespec="microseconds"),
            "cpu": {
                "percent": _percent(psutil.cpu_percent(interval=None)),
                "per_core": [_percent(p) for p in psutil.cpu_percent(interval=None, percpu=True)][:MAX_CORES],
                "load": [round(x, 2) for x in psutil.getloadavg()],
                "count": psutil.cpu_count() or 1,
            },
            "memory": {
                "total": memory.total,
                "used": memory.used,
                "available": memory.available,
                "percent": _percent(memory.percent),
            },
            "swap": {"total": swap.total, "used": swap.used, "percent": _percent(swap.percent)},
            "disks": self._disks()[:MAX_ITEMS],
            "disk_io": disk_io,
            "network": network[:MAX_ITEMS],
            "uptime_seconds": round(max(0.0, time.time() - psutil.boot_time()), 1),
            "process_count": len(psutil.pids()),
            "temperatures": _temperatures(),
            "system": self._system,
        }

    def _collected_at(self) -> datetime:
        # The hub keeps one report per (host, collected_at): never repeat a timestamp,
        # even if the wall clock steps back.
        stamp = datetime.now(timezone.utc)
        if self._last_collected_at is not None and stamp <= self._last_collected_at:
            stamp = self._last_collected_at + timedelta(microseconds=1)
        self._last_collected_at = stamp
        return stamp

    def _disks(self) -> list[dict[str, Any]]:
        disks = []
        for part in real_mounts(psutil.disk_partitions(all=True)):
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:  # unmounted meanwhile, or hidden from this service
                continue
            disks.append(
                {
                    "mount": part.mountpoint,
                    "device": part.device,
                    "fstype": part.fstype[:50],
                    "total": usage.total,
                    "used": usage.used,
                    "percent": _percent(usage.percent),
                }
            )
        return disks

    def _io_rates(self, now: float) -> tuple[dict[str, float], list[dict[str, Any]]]:
        seconds = now - self._last_time if self._last_time else 0.0
        self._last_time = now

        disk = psutil.disk_io_counters()
        current_disk = (disk.read_bytes, disk.write_bytes) if disk else None
        disk_io = {"read_bytes_per_s": 0.0, "write_bytes_per_s": 0.0}
        if current_disk and self._last_disk:
            disk_io = {
                "read_bytes_per_s": round(rate(self._last_disk[0], current_disk[0], seconds), 1),
                "write_bytes_per_s": round(rate(self._last_disk[1], current_disk[1], seconds), 1),
            }
        self._last_disk = current_disk

        current_net = {
            name: (c.bytes_recv, c.bytes_sent)
            for name, c in psutil.net_io_counters(pernic=True).items()
            if name not in SKIPPED_INTERFACES
        }
        network = nic_rates(self._last_net, current_net, seconds)
        self._last_net = current_net
        return disk_io, network


def _percent(value: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return round(min(100.0, max(0.0, value)), 1)


def _temperatures() -> list[dict[str, Any]]:
    if not hasattr(psutil, "sensors_temperatures"):  # not on every platform
        return []
    try:
        return temperature_readings(psutil.sensors_temperatures())
    except OSError:
        return []


def temperature_readings(chips: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Readings from psutil's {chip: [shwtemp(label, current, ...)]}, sane values only."""
    low, high = CELSIUS_RANGE
    readings = []
    for chip, sensors in chips.items():
        for index, sensor in enumerate(sensors):
            # A broken sensor can read 65261.8 or NaN; the hub would refuse the whole report.
            if sensor.current is None or not low <= sensor.current <= high:  # also drops NaN
                continue
            label = sensor.label or str(index)
            readings.append({"sensor": f"{chip} {label}"[:200], "celsius": round(sensor.current, 1)})
    return readings[:MAX_ITEMS]
