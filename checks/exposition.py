"""Each enabled check's state and latency in /metrics (metrics/exposition.py asks this collector).

Labelled by the check's name only: names are unique and chosen by admins, so the series
count is the number of checks (times four states), never something a target or a
message could grow. prometheus_client escapes label values.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from checks.models import Check, CheckState
from metrics import exposition


class CheckCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "statusdash_check_state", "1 for the check's current state, 0 for the others.", labels=["check", "state"]
        )
        latency = GaugeMetricFamily("statusdash_check_latency_seconds", "The latest run's latency.", labels=["check"])
        last_run = GaugeMetricFamily(
            "statusdash_check_last_run_timestamp_seconds", "When the check last ran (Unix time).", labels=["check"]
        )
        rows = (
            Check.objects.filter(enabled=True)
            .order_by("name")
            .values_list("name", "state", "last_latency_ms", "last_result_at")
        )
        for name, current, latency_ms, last_result_at in rows:
            for value in CheckState.values:
                state.add_metric([name, value], 1.0 if current == value else 0.0)
            if latency_ms is not None:
                latency.add_metric([name], latency_ms / 1000)
            if last_result_at is not None:
                last_run.add_metric([name], last_result_at.timestamp())
        yield state
        yield latency
        yield last_run


def register() -> None:
    exposition.add_collector(CheckCollector)
