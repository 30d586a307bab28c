import logging
from datetime import datetime, timedelta, timezone

import pytest

from agent.spool import Spool


def stamp(seconds_ago: float = 0.0) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).isoformat()


def fill(spool: Spool, count: int, size: int = 100, seconds_ago: float = 0.0) -> list[bytes]:
    bodies = []
    for i in range(count):
        body = (b"%05d" % i).ljust(size, b"x")
        spool.put(stamp(seconds_ago - i * 0.001), body)
        bodies.append(body)
    return bodies


def test_reports_come_back_oldest_first(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    bodies = fill(spool, 5)
    assert [body for _, body in spool.oldest(3, 10**6)] == bodies[:3]
    assert len(spool) == 5


def test_delete_removes_only_the_given_reports(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    bodies = fill(spool, 4)
    spool.delete([row_id for row_id, _ in spool.oldest(2, 10**6)])
    assert [body for _, body in spool.oldest(10, 10**6)] == bodies[2:]
    assert len(spool) == 2


def test_oldest_respects_a_byte_budget_but_returns_at_least_one(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    fill(spool, 5, size=100)
    assert len(spool.oldest(10, 250)) == 2
    assert len(spool.oldest(10, 10)) == 1


def test_size_bound_drops_the_oldest_with_a_counted_warning(tmp_path, caplog):
    spool = Spool(str(tmp_path), max_bytes=1000, max_age_seconds=3600)
    with caplog.at_level(logging.WARNING, logger="agent.spool"):
        bodies = fill(spool, 15, size=100)
    assert len(spool) == 10
    assert [body for _, body in spool.oldest(100, 10**6)] == bodies[5:]
    drops = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 5 and all("dropped the 1 oldest" in m for m in drops)


def test_age_bound_drops_reports_that_are_too_old(tmp_path, caplog):
    spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    fill(spool, 3, seconds_ago=120)
    fresh = fill(spool, 1)
    spool.close()
    with caplog.at_level(logging.WARNING, logger="agent.spool"):
        reopened = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=60)
    assert [body for _, body in reopened.oldest(10, 10**6)] == fresh
    assert "dropped 3 report(s) older than 0.0167 hours" in caplog.text


def test_spool_survives_a_restart_in_order(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    bodies = fill(spool, 20)
    spool.close()
    reopened = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    assert len(reopened) == 20
    assert [body for _, body in reopened.oldest(100, 10**6)] == bodies


def test_restart_with_a_full_spool_and_a_smaller_limit_trims_at_once(tmp_path, caplog):
    spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    bodies = fill(spool, 50, size=100)
    spool.close()
    with caplog.at_level(logging.WARNING, logger="agent.spool"):
        reopened = Spool(str(tmp_path), max_bytes=2000, max_age_seconds=3600)
    assert len(reopened) == 20
    assert [body for _, body in reopened.oldest(100, 10**6)] == bodies[30:]
    assert "dropped the 30 oldest" in caplog.text


def test_file_shrinks_as_a_backlog_is_sent(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10**8, max_age_seconds=3600)
    fill(spool, 2000, size=1000)
    full = spool.db.execute("PRAGMA page_count").fetchone()[0]
    while len(spool) > 1:
        spool.delete([row_id for row_id, _ in spool.oldest(min(200, len(spool) - 1), 10**8)])
    assert spool.db.execute("PRAGMA page_count").fetchone()[0] < full / 10


def test_drained_spool_leaves_no_file_and_reopens_on_the_next_put(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    fill(spool, 3)
    spool.delete([row_id for row_id, _ in spool.oldest(10, 10**6)])
    assert spool.db is None and list(tmp_path.iterdir()) == []
    assert Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600).db is None  # next start
    body = fill(spool, 1)
    assert [b for _, b in spool.oldest(10, 10**6)] == body


def test_spool_directory_is_created_private_at_start(tmp_path):
    directory = tmp_path / "state" / "spool"
    Spool(str(directory), max_bytes=1000, max_age_seconds=60)
    assert directory.stat().st_mode & 0o777 == 0o700


def test_database_is_opened_only_when_a_report_must_wait(tmp_path):
    spool = Spool(str(tmp_path), max_bytes=1000, max_age_seconds=60)
    assert spool.db is None and len(spool) == 0 and spool.oldest(10, 1000) == []
    assert not (tmp_path / "spool.sqlite3").exists()
    fill(spool, 1)
    assert (tmp_path / "spool.sqlite3").exists()


def test_damaged_spool_file_is_moved_aside_and_a_new_one_started(tmp_path, caplog):
    (tmp_path / "spool.sqlite3").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR, logger="agent.spool"):
        spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    assert len(spool) == 0
    assert fill(spool, 2) == [body for _, body in spool.oldest(10, 10**6)]
    assert list(tmp_path.glob("spool.sqlite3.damaged-*"))
    assert "is unreadable" in caplog.text


def test_a_full_disk_loses_the_report_but_not_the_agent(tmp_path, caplog):
    spool = Spool(str(tmp_path), max_bytes=10**6, max_age_seconds=3600)
    fill(spool, 1)
    spool.db.execute("PRAGMA max_page_count = 1")  # as good as a full disk
    with caplog.at_level(logging.ERROR, logger="agent.spool"):
        assert spool.put(stamp(), b"x" * 10_000) is False
    assert len(spool) == 1
    assert "could not store the report" in caplog.text


def test_unwritable_spool_dir_fails_at_start(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        Spool(str(blocker / "spool"), max_bytes=1000, max_age_seconds=60)
