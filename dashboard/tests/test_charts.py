"""The figures beside each chart: now from the newest report, idle interfaces and mounts folded away."""

from __future__ import annotations

from typing import Any

from dashboard.charts import chart_tables


def one_point_history(network: dict[str, Any], disks: dict[str, Any], cpu: list[float | None]) -> dict[str, Any]:
    series = {
        name: [1.0] * len(cpu)
        for name in (
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
        )
    }
    return {
        "series": {**series, "cpu_percent": cpu, "cpu_max": cpu},
        "detail": {"cores": [], "disks": disks, "network": network},
    }


def table(tables: list[dict[str, Any]], chart_id: str) -> dict[str, Any]:
    return next(t for t in tables if t["id"] == chart_id)


def test_now_is_the_newest_report_and_avg_max_are_over_the_points() -> None:
    history = one_point_history({}, {}, [10.0, None, 30.0])
    history["latest"] = one_point_history({}, {}, [28.9])
    total = table(chart_tables(history), "cpu")["rows"][0]
    assert (total["label"], total["now"], total["avg"], total["max"]) == ("total", "28.9%", "20.0%", "30.0%")


def test_without_a_report_in_the_range_now_is_missing() -> None:
    total = table(chart_tables(one_point_history({}, {}, [10.0])), "cpu")["rows"][0]
    assert total["now"] == "\u2013"


def test_an_interface_that_never_carried_data_is_folded_away() -> None:
    network = {
        "eth0": {"rx": [100.0, 200.0], "tx": [0.0, 0.0]},
        "ifb0": {"rx": [0.0, None], "tx": [0.0, 0.0]},
    }
    tables = chart_tables(one_point_history(network, {"/": [40.0, 41.0], "/run/empty": [0.0, 0.0]}, [1.0, 2.0]))
    nics = table(tables, "network")
    assert [r["label"] for r in nics["rows"]] == ["eth0 in", "eth0 out"]
    assert [r["label"] for r in nics["idle_rows"]] == ["ifb0 in", "ifb0 out"]
    assert nics["idle_names"] == ["ifb0"]
    disks = table(tables, "disks")
    assert [r["label"] for r in disks["rows"]] == ["/"] and disks["idle_names"] == ["/run/empty"]
