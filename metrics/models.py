"""Metric samples: one row per agent report, with the charted numbers as columns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import connection, models

from hosts.models import Host
from metrics.signals import report_facts
from statusdash.lib.prepared import prepared_cursor
from statusdash.lib.writelock import COMMIT_WITHOUT_FLUSH_SQL

# The numbers charted over time: history reads them, rollups keep their min, max and average.
CHARTED_COLUMNS = [
    "cpu_percent",
    "load_1",
    "load_5",
    "load_15",
    "memory_percent",
    "swap_percent",
    "disk_percent",
    "net_rx_bps",
    "net_tx_bps",
    "disk_read_bps",
    "disk_write_bps",
]
ROLLUP_AGGREGATES = ("min", "max", "avg")


def _aware(value: datetime | str) -> datetime:
    """A timestamp as the database hands it back (SQLite: naive UTC, maybe text) made aware."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class StoredBatch(NamedTuple):
    samples: list[MetricSample]
    duplicates: int
    # The answers to metrics.signals.report_facts, by name, read in the report's statement.
    facts: dict[str, Any]


class HostGone(Exception):
    """The reporting host's row was deleted after its agent was identified."""

    def __init__(self, name: str) -> None:
        super().__init__(f"host {name!r} no longer exists: it was deleted; enroll it again to report")


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
        """Store a batch of validated reports; resent ones are skipped. Returns the samples
        stored and the number of duplicates (`store_batch` without the facts)."""
        batch = cls.store_batch(host, reports)
        return batch.samples, batch.duplicates

    @classmethod
    def store_batch(cls, host: Host, reports: list[dict[str, Any]], *, wait_for_disk: bool = True) -> StoredBatch:
        """Store a batch of validated reports and describe their host by the newest of them;
        resent reports are skipped. Raises HostGone when the host's row was deleted since its
        agent was identified: the request fails alone, with a reason (foreign keys are checked
        at COMMIT, so without this a neighbour sharing the commit would fail too).

        Opens no transaction of its own: run it inside the caller's (`metrics.ingest`
        opens the one the write path uses) so the batch is stored all-or-nothing.

        On PostgreSQL it is one statement, one round trip: the host's UPDATE (which locks the
        row, so a delete waits for this commit) and the samples' INSERT as a CTE, returning the
        stored times, the facts apps asked for (metrics.signals.report_facts) and, with
        `wait_for_disk=False`, turning off the WAL flush wait for this transaction's commit. On
        SQLite, in-process and without round trips, it is the UPDATE … RETURNING and then the
        INSERT. docs/benchmarks.md, "PostgreSQL under load", measured why.
        """
        newest = max(reports, key=lambda r: r["collected_at"])
        by_time: dict[datetime, MetricSample] = {}
        for report in reports:
            if report["collected_at"] not in by_time:
                by_time[report["collected_at"]] = cls.from_report(host, report)
        host_sql, host_params = Host.report_update(host.pk, newest["system"], newest["cpu"]["count"])
        insert_sql, insert_params, by_key = cls._insert_new(list(by_time.values()))
        names = list(report_facts)
        # The facts' SQL comes from the apps' own code (metrics.signals.ask_with_each_report), never from input.
        returning = ", ".join(["1", *(f"({report_facts[name]}) AS fact_{i}" for i, name in enumerate(names))])
        if connection.vendor == "postgresql":
            flush = f", {COMMIT_WITHOUT_FLUSH_SQL}" if not wait_for_disk else ""
            facts = "".join(f", reporting_host.fact_{i}" for i in range(len(names)))
            sql = (
                f"WITH reporting_host AS ({host_sql} RETURNING {returning}), stored AS ({insert_sql}) "  # noqa: S608
                f"SELECT ARRAY(SELECT {connection.ops.quote_name('collected_at')} FROM stored){facts}{flush} "
                "FROM reporting_host"
            )
            # Bound on the server, so PostgreSQL plans it once per connection (statusdash/lib/prepared.py).
            with prepared_cursor() as cursor:
                cursor.execute(sql, [*host_params, *insert_params])
                row = cursor.fetchone()
            if row is None:  # the INSERT ran, and rolls back with the caller's transaction
                raise HostGone(host.name)
            returned, answers = row[0], row[1 : 1 + len(names)]
        else:
            with connection.cursor() as cursor:
                # First, so a deleted host stores nothing before its request fails.
                cursor.execute(f"{host_sql} RETURNING {returning}", host_params)
                host_row = cursor.fetchone()
                if host_row is None:
                    raise HostGone(host.name)
                answers = host_row[1:]
                cursor.execute(insert_sql, insert_params)
                returned = [row[0] for row in cursor.fetchall()]
        stored = sorted((by_key[_aware(value)] for value in returned), key=lambda s: s.collected_at)
        return StoredBatch(stored, len(reports) - len(stored), dict(zip(names, answers, strict=True)))

    @classmethod
    def _insert_new(cls, samples: list[MetricSample]) -> tuple[str, list[Any], dict[datetime, MetricSample]]:
        """INSERT … ON CONFLICT DO NOTHING RETURNING: one statement that stores the new
        samples and says which they were (by collected_at, the key returned), where the ORM
        needs a SELECT and an INSERT.

        This is the hot path of ingest; building the query through the ORM cost more
        than running it. Values are still prepared by each field, exactly as the ORM would.
        """
        fields = [f for f in cls._meta.concrete_fields if not f.primary_key]
        quote = connection.ops.quote_name
        rows, params, by_key = [], [], {}
        for sample in samples:
            values = [f.get_db_prep_save(f.pre_save(sample, True), connection) for f in fields]
            by_key[_aware(sample.collected_at)] = sample
            rows.append("(" + ", ".join(["%s"] * len(fields)) + ")")
            params.extend(values)
        # Only identifiers from our own model and %s placeholders go into the text.
        sql = (
            f"INSERT INTO {quote(cls._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
            f"VALUES {', '.join(rows)} "
            f"ON CONFLICT ({quote('host_id')}, {quote('collected_at')}) DO NOTHING "
            f"RETURNING {quote('collected_at')}"
        )
        return sql, params, by_key

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


class MetricRollup(models.Model):
    """Min, max and average of every charted column over one step (e.g. a minute) of one host.

    Built from raw samples by `metrics.rollups.roll_up`; charts over long ranges read these.
    The columns `<name>_min`, `<name>_max`, `<name>_avg` for each of CHARTED_COLUMNS are
    added below the class.
    """

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="rollups")
    step = models.PositiveIntegerField(help_text="Seconds per bucket.")
    bucket_start = models.DateTimeField()
    sample_count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            # Upserts key on it, and it serves every chart query: host, step, then a time range.
            models.UniqueConstraint(fields=["host", "step", "bucket_start"], name="one_rollup_per_bucket"),
        ]

    def __str__(self) -> str:
        return f"{self.host_id} {self.step}s @ {self.bucket_start.isoformat()}"


for _column in CHARTED_COLUMNS:
    for _aggregate in ROLLUP_AGGREGATES:
        MetricRollup.add_to_class(f"{_column}_{_aggregate}", models.FloatField())


class RollupCursor(models.Model):
    """How far rollups have read the samples table (by id, so late reports are rolled up too)."""

    name = models.CharField(max_length=50, unique=True)
    last_sample_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_sample_id}"
