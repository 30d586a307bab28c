"""Seconds since 1970 of a datetime column, in SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from django.db.models import Func, IntegerField


class EpochSeconds(Func):
    """Whole seconds since 1970, truncated like Python's int(dt.timestamp()).

    Truncation matters: rollup buckets are computed both here and in Python, and a
    sample at 12:00:59.9999 must fall in the 12:00 minute on both sides. SQLite's
    date functions round to milliseconds, so the fraction is cut off first (Django
    stores 'YYYY-MM-DD HH:MM:SS.ffffff'); %s is written %%%%s, escaped once for this
    template and once for the driver's placeholders.
    """

    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="CAST(strftime('%%%%s', substr(%(expressions)s, 1, 19)) AS INTEGER)", **extra
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)", **extra
        )
