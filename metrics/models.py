"""Metric samples: one row per agent report, with the charted numbers as columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models

from hosts.models import Host
from statusdash.lib.writelock import write_transaction


class MetricSampleQuerySet(models.QuerySet["MetricSample"]):
    def for_host(self, host: Host) -> MetricSampleQuerySet:
        return self.filter(host=host)


class MetricSample(models.Model):
    """A report as the dashboard reads it.

    Numbers that are filtered, charted or compared against thresholds get their own
    columns; per-core, per-mount, per-interface and temperature detail lives in `detail`.
    """

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="samples")
    collected_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    cpu_percent = models.FloatField()
    load_1 = models.FloatField()
    load_5 = models.FloatField()
    load_15 = models.FloatField()
    memory_percent = models.FloatField()
    memory_used = models.BigIntegerField()
    memory_total = models.BigIntegerField()
    swap_percent = models.FloatField()
    disk_percent = models.FloatField(help_text="The fullest mount's usage.")
    net_rx_bps = models.FloatField()
    net_tx_bps = models.FloatField()
    disk_read_bps = models.FloatField()
    disk_write_bps = models.FloatField()
    process_count = models.PositiveIntegerField()
    uptime_seconds = models.FloatField()
    detail = models.JSONField(default=dict)

    objects = MetricSampleQuerySet.as_manager()

    class Meta:
        constraints = [
            # A resent report (agent retry, spool replay) is stored once. The index also
            # serves every history query: host equality, then a collected_at range.
            models.UniqueConstraint(fields=["host", "collected_at"], name="one_sample_per_host_and_time"),
        ]
        indexes = [models.Index(fields=["collected_at"], name="sample_collected_at")]

    def __str__(self) -> str:
        return f"{self.host_id} @ {self.collected_at.isoformat()}"

    @classmethod
    def from_report(cls, host: Host, report: dict[str, Any]) -> MetricSample:
        """Build (not save) a sample from a validated report dict."""
        cpu, memory, swap = report["cpu"], report["memory"], report["swap"]
        disks = report["disks"]
        network = report["network"]
        load = cpu["load"]
        return cls(
            host=host,
            collected_at=report["collected_at"],
            cpu_percent=cpu["percent"],
            load_1=load[0],
            load_5=load[1],
            load_15=load[2],
            memory_percent=memory["percent"],
            memory_used=memory["used"],
            memory_total=memory["total"],
            swap_percent=swap["percent"],
            disk_percent=max((disk["percent"] for disk in disks), default=0.0),
            net_rx_bps=sum(nic["rx_bytes_per_s"] for nic in network),
            net_tx_bps=sum(nic["tx_bytes_per_s"] for nic in network),
            disk_read_bps=report["disk_io"]["read_bytes_per_s"],
            disk_write_bps=report["disk_io"]["write_bytes_per_s"],
            process_count=report["process_count"],
            uptime_seconds=report["uptime_seconds"],
            detail={
                "per_core": cpu["per_core"],
                "memory": memory,
                "swap": swap,
                "disks": disks,
                "network": network,
                "temperatures": report.get("temperatures") or [],
            },
        )

    @classmethod
    def store_reports(cls, host: Host, reports: list[dict[str, Any]]) -> tuple[list[MetricSample], int]:
        """Store a batch of validated reports all-or-nothing; resent ones are skipped.

        Returns the samples stored and the number of duplicates.
        """
        by_time: dict[datetime, dict[str, Any]] = {}
        for report in reports:
            by_time.setdefault(report["collected_at"], report)
        # Reading which reports are already stored needs no write lock; a resend racing
        # this one is caught by ignore_conflicts below, so the row is stored once either way.
        known = set(
            MetricSample.objects.filter(host=host, collected_at__in=list(by_time)).values_list(
                "collected_at", flat=True
            )
        )
        fresh = [cls.from_report(host, r) for t, r in sorted(by_time.items()) if t not in known]
        newest = by_time[max(by_time)]
        with write_transaction():
            MetricSample.objects.bulk_create(fresh, ignore_conflicts=True)
            Host.objects.filter(pk=host.pk).update(**Host.reported_fields(newest["system"], newest["cpu"]["count"]))
        return fresh, len(reports) - len(fresh)

    def summary(self) -> dict[str, Any]:
        """What a host card and the host list show; also what the latest-metrics cache holds."""
        disks = self.detail.get("disks", [])
        fullest = max(disks, key=lambda d: d["percent"], default=None)
        return {
            "collected_at": self.collected_at.isoformat(),
            "cpu_percent": self.cpu_percent,
            "load": [self.load_1, self.load_5, self.load_15],
            "memory_percent": self.memory_percent,
            "memory_used": self.memory_used,
            "memory_total": self.memory_total,
            "swap_percent": self.swap_percent,
            "disk_percent": self.disk_percent,
            "disk_mount": fullest["mount"] if fullest else None,
            "net_rx_bps": self.net_rx_bps,
            "net_tx_bps": self.net_tx_bps,
            "disk_read_bps": self.disk_read_bps,
            "disk_write_bps": self.disk_write_bps,
            "process_count": self.process_count,
            "uptime_seconds": self.uptime_seconds,
        }
