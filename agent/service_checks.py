"""The service checks the hub assigns to this agent: fetched, scheduled, run, reported.

- The list comes from `GET /api/agent/checks` over the report's own session (the same
  certificate or key), at most every REFRESH_SECONDS, with If-None-Match: an unchanged list
  is a 304 with no body. The daemon asks from its main loop, between reports, so the
  requests session is never used from two threads at once. When the hub is away the last
  list keeps running.
- One scheduler thread starts each check on its own interval into a pool of WORKERS
  threads; a check still running when it is due again skips that turn rather than pile up.
- Results wait in a bounded buffer until the daemon takes them into the next report
  (`drain()`); they then travel, and spool, with that report.

Nothing here starts (no thread, no pool) until the hub assigns a check: an agent without
checks costs what it did before.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from agent import probes

log = logging.getLogger(__name__)

CHECKS_PATH = "/api/agent/checks"
REFRESH_SECONDS = 60.0
WORKERS = 4
# The hub takes at most 1000 results per report (metrics/schemas.py); 20 checks at their
# shortest interval (20 s) make 10 in a 10 s report. Past this the oldest are dropped.
MAX_BUFFERED = 1000
KINDS = frozenset({"http", "tcp", "tls", "dns", "ping", "plugin"})
# A new list's checks start within this many seconds, spread out, not all at once.
FIRST_RUN_SPREAD = 5.0


def valid_check(item: Any) -> bool:
    """The few fields the scheduler relies on; a malformed entry is skipped, not fatal."""
    if not isinstance(item, dict):
        return False
    ident, interval, timeout = item.get("id"), item.get("interval"), item.get("timeout")
    return (
        isinstance(ident, int)
        and not isinstance(ident, bool)
        and ident > 0
        and isinstance(item.get("kind"), str)
        and isinstance(item.get("target"), str)
        and isinstance(interval, (int, float))
        and 1 <= interval <= 86400
        and isinstance(timeout, (int, float))
        and 0 < timeout <= 300
    )


class ServiceChecks:
    def __init__(
        self,
        get: Callable[[str, dict[str, str]], Any],
        plugin_dirs: Sequence[str],
        clock: Callable[[], float] = time.monotonic,
        probe: Callable[[dict[str, Any], Sequence[str]], probes.Result] = probes.probe,
    ) -> None:
        """`get(path, headers)` is the transport's GET on the hub (a requests.Response)."""
        self.get = get
        self.plugin_dirs = tuple(plugin_dirs)
        self.clock = clock
        self.probe = probe
        self.etag = ""
        self.checks: dict[int, dict[str, Any]] = {}
        self.next_refresh = 0.0
        self.results: deque[dict[str, Any]] = deque(maxlen=MAX_BUFFERED)
        self.lock = threading.Lock()  # guards checks, the schedule, running and results
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.schedule: list[tuple[float, int]] = []  # (due, check id), a heap
        self.running: set[int] = set()
        self.pool: ThreadPoolExecutor | None = None
        self.thread: threading.Thread | None = None
        self.missing_endpoint_logged = False
        self.last_ran_at: dict[int, datetime] = {}

    # --- the list, from the hub (the daemon's thread) ----------------------------

    def maybe_refresh(self) -> None:
        if self.clock() >= self.next_refresh:
            self.next_refresh = self.clock() + REFRESH_SECONDS
            self.refresh()

    def refresh(self) -> bool:
        """Ask the hub for the list; True when it changed. Failures keep the list in hand."""
        headers = {"If-None-Match": self.etag} if self.etag else {}
        try:
            response = self.get(CHECKS_PATH, headers)
        except Exception as error:  # the hub away: the checks go on, their results spool
            log.warning("could not fetch the service checks (%s); running the %d in hand", error, len(self.checks))
            return False
        status = response.status_code
        if status == 304:
            return False
        if status == 404:
            if not self.missing_endpoint_logged:
                self.missing_endpoint_logged = True
                log.info("the hub runs no service checks on agents (no %s); asking again hourly", CHECKS_PATH)
            self.next_refresh = self.clock() + 3600
            return False
        if status != 200:
            log.warning("the hub refused the service checks (HTTP %s: %s)", status, response.text[:200])
            return False
        try:
            payload = response.json()
            items = payload["checks"]
            assert isinstance(items, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            log.warning("the hub's service checks were not readable; running the %d in hand", len(self.checks))
            return False
        checks = {item["id"]: item for item in items if valid_check(item)}
        if len(checks) != len(items):
            log.warning("skipped %d malformed service check(s) from the hub", len(items) - len(checks))
        self.etag = response.headers.get("ETag", "")
        self.replace(checks)
        return True

    def replace(self, checks: dict[int, dict[str, Any]]) -> None:
        now = self.clock()
        with self.lock:
            old = self.checks
            self.checks = checks
            due = {ident: when for when, ident in self.schedule}
            self.schedule = []
            for ident, check in checks.items():
                kept = due.get(ident)
                if kept is not None and ident in old and old[ident].get("interval") == check["interval"]:
                    when = kept  # unchanged rhythm: keep its turn
                else:
                    when = now + random.uniform(0, min(FIRST_RUN_SPREAD, check["interval"]))
                self.schedule.append((when, ident))
            heapq.heapify(self.schedule)
            for ident in list(self.last_ran_at):
                if ident not in checks:
                    del self.last_ran_at[ident]
        log.info("running %d service check(s) from the hub", len(checks))
        if checks:
            self.start()
        self.wake.set()

    # --- running them (the scheduler thread and the pool) ----------------------

    def start(self) -> None:
        if self.thread is None:
            self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="check")
            self.thread = threading.Thread(target=self.loop, name="check-scheduler", daemon=True)
            self.thread.start()

    def loop(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                wait = self.schedule[0][0] - self.clock() if self.schedule else 3600.0
            if wait > 0:
                self.wake.wait(wait)
                self.wake.clear()
                continue
            self.start_due()

    def start_due(self) -> None:
        now = self.clock()
        started = []
        with self.lock:
            while self.schedule and self.schedule[0][0] <= now:
                _, ident = heapq.heappop(self.schedule)
                check = self.checks.get(ident)
                if check is None:
                    continue
                # Next turn on the check's own beat, never in the past after a stall.
                heapq.heappush(self.schedule, (now + check["interval"], ident))
                if ident in self.running:
                    continue  # still running from its last turn: skip this one
                self.running.add(ident)
                started.append(check)
        for check in started:
            assert self.pool is not None
            self.pool.submit(self.run_one, check)

    def run_one(self, check: dict[str, Any]) -> None:
        try:
            ran_at = datetime.now(timezone.utc)
            result = self.probe(check, self.plugin_dirs)
            self.add_result(check, ran_at, result)
        finally:
            with self.lock:
                self.running.discard(check["id"])

    def add_result(self, check: dict[str, Any], ran_at: datetime, result: probes.Result) -> None:
        with self.lock:
            # The hub keeps one result per (check, agent, ran_at): never repeat a time.
            last = self.last_ran_at.get(check["id"])
            if last is not None and ran_at <= last:
                ran_at = last + timedelta(microseconds=1)
            self.last_ran_at[check["id"]] = ran_at
            entry: dict[str, Any] = {
                "check_id": check["id"],
                "ran_at": ran_at.isoformat(timespec="microseconds"),
                "state": result.state,
                "message": result.message[: probes.MESSAGE_MAX_LENGTH],
            }
            if result.latency_ms is not None:
                entry["latency_ms"] = max(0.0, float(result.latency_ms))
            self.results.append(entry)

    def drain(self) -> list[dict[str, Any]]:
        """The results since the last call, oldest first, for the next report."""
        with self.lock:
            taken = list(self.results)
            self.results.clear()
        return taken

    def close(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        if self.pool is not None:
            # Running probes end at their own timeouts; nothing waits for them here.
            self.pool.shutdown(wait=False)
