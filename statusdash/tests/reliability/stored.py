"""What a standalone hub stored, read straight from its database, to hold against what it
was sent: SQLite under its DATA_DIR, or the PostgreSQL database its DATABASE_URL names."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg


def rows(env: dict[str, str], statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One SELECT (with %s placeholders) on the database of the hub started with `env`."""
    if env.get("DATABASE_URL"):
        with psycopg.connect(env["DATABASE_URL"]) as db:
            return db.execute(statement, params).fetchall()  # type: ignore[arg-type]  # our own text
    path = Path(env["DATA_DIR"]) / "db" / "status-dashboard.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        return db.execute(statement.replace("%s", "?"), params).fetchall()


def utc(value: str | datetime) -> datetime:
    """A timestamp as either database hands it back (SQLite: naive UTC text) as an aware UTC one."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StoredSample:
    collected_at: datetime
    cpu_percent: float
    memory_percent: float
    disk_percent: float
    detail: dict[str, Any]


def samples(env: dict[str, str], host_name: str) -> dict[datetime, StoredSample]:
    """Every sample stored for the host, by collected_at."""
    found = rows(
        env,
        "SELECT m.collected_at, m.cpu_percent, m.memory_percent, m.disk_percent, m.detail"
        " FROM metrics_metricsample m JOIN hosts_host h ON h.id = m.host_id WHERE h.name = %s",
        (host_name,),
    )
    result = {}
    for collected_at, cpu, memory, disk, detail in found:
        # PostgreSQL's driver decodes jsonb itself; SQLite hands back the text.
        sample = StoredSample(
            utc(collected_at), cpu, memory, disk, json.loads(detail) if isinstance(detail, str) else detail
        )
        result[sample.collected_at] = sample
    return result


def reported_hostname(env: dict[str, str], host_name: str) -> str:
    """The hostname the host's newest report gave (the host's row, not a sample)."""
    [(hostname,)] = rows(env, "SELECT reported_hostname FROM hosts_host WHERE name = %s", (host_name,))
    return str(hostname)
