"""The agent's main loop: collect every REPORT_INTERVAL, send, spool what cannot be sent.

Collection keeps its rhythm whatever the hub does; sending follows its own schedule
(exponential backoff while the hub is down), and a backlog goes out oldest first in
batches, between collections.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.collector import Collector
from agent.config import Config
from agent.renew import Renewer
from agent.spool import Spool
from agent.transport import MAX_BODY_BYTES, Backoff, Outcome, Transport, encode
from agent.update import Offer, Updater

if TYPE_CHECKING:  # loaded by cli.py only when the agent runs checks
    from agent.service_checks import ServiceChecks

log = logging.getLogger(__name__)

BATCH_SIZE = 200
REFUSED_RETRY_SECONDS = 60.0
# Room for '{"reports":[' and ']}' around the joined report bodies.
BATCH_BYTES = MAX_BODY_BYTES - 64


def batch_body(bodies: list[bytes]) -> bytes:
    return b'{"reports":[' + b",".join(bodies) + b"]}"


class Agent:
    def __init__(
        self,
        config: Config,
        transport: Transport,
        spool: Spool,
        collector: Collector | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        updater: Updater | None = None,
        renewer: Renewer | None = None,
        checks: ServiceChecks | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.spool = spool
        self.collector = collector or Collector()
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.next_send = 0.0  # no sending before this clock() value (backing off)
        self.stop = threading.Event()
        self.updater = updater
        self.renewer = renewer
        self.checks = checks
        self.restart = False  # set when an update is installed: the caller re-executes
        self.ignored_offers: set[str] = set()

    def run(self) -> None:
        """Run until self.stop is set (by SIGTERM); the report in hand ends in the spool."""
        interval = self.config.report_interval
        self.collector.prime()
        next_collect = self.clock() + interval
        log.info("agent started: reporting to %s every %gs", self.config.report_url, interval)
        if len(self.spool):
            log.info("spool holds %d report(s) from before the restart", len(self.spool))
        self.refresh_checks()
        while not self.stop.is_set():
            wake = next_collect
            if len(self.spool):
                wake = min(wake, self.next_send)
            if self.stop.wait(max(0.0, wake - self.clock())):
                break
            now = self.clock()
            if now >= next_collect:
                # A late wake-up (suspend, slow hub) skips the missed slots, never bursts.
                next_collect = max(next_collect + interval, now + interval / 2)
                self.handle(self.with_check_results(self.collector.collect()), deadline=next_collect)
                self.refresh_checks()
            elif len(self.spool):
                self.flush(deadline=next_collect)
        if not self.restart:
            log.info("agent stopping; %d report(s) left in the spool", len(self.spool))

    def with_check_results(self, report: dict[str, Any]) -> dict[str, Any]:
        """The report with the service checks' results since the last one (they spool with it)."""
        if self.checks is not None:
            results = self.checks.drain()
            if results:
                report["checks"] = results
        return report

    def refresh_checks(self) -> None:
        # Not while backing off: a hub that is away would cost a timeout per refresh.
        if self.checks is not None and not self.stop.is_set() and self.clock() >= self.next_send:
            self.checks.maybe_refresh()

    def handle(self, report: dict[str, Any], deadline: float) -> None:
        """Send a fresh report, or spool it behind the backlog and flush what time allows."""
        log.debug("collected report %s", report["collected_at"])
        body = encode(report)
        if len(self.spool) or self.stop.is_set() or self.clock() < self.next_send:
            self.spool.put(report["collected_at"], body)
            if not self.stop.is_set() and self.clock() >= self.next_send:
                self.flush(deadline)
            return
        outcome = self.transport.send(body)
        if outcome.ok:
            self.backoff.reset()
            self._answered(outcome)
            return
        if outcome.retry or outcome.refused:
            self.spool.put(report["collected_at"], body)
        self._failed(outcome, what="report")

    def flush(self, deadline: float) -> None:
        """Send spooled reports oldest first, in batches, until empty, failing or out of time."""
        batch_size = BATCH_SIZE
        while len(self.spool) and not self.stop.is_set() and self.clock() < deadline:
            rows = self.spool.oldest(batch_size, BATCH_BYTES)
            ids = [row_id for row_id, _ in rows]
            outcome = self.transport.send(batch_body([body for _, body in rows]))
            if outcome.ok:
                self.spool.delete(ids)
                self.backoff.reset()
                self._answered(outcome)
                log.info(
                    "sent %d spooled report(s) (%d new, %d already stored), %d left",
                    len(ids),
                    outcome.accepted,
                    outcome.duplicates,
                    len(self.spool),
                )
            elif outcome.retry or outcome.refused:
                self._failed(outcome, what=f"batch of {len(ids)}")
                return
            elif len(ids) > 1:
                # A batch is all-or-nothing: halve it until the culprit stands alone.
                batch_size = max(1, len(ids) // 2)
                log.warning(
                    "hub refused a batch of %d (%s: %s); retrying smaller", len(ids), outcome.status, outcome.detail
                )
            else:
                self.spool.delete(ids)
                self._failed(outcome, what="spooled report")

    def _answered(self, outcome: Outcome) -> None:
        """What an accepted report's answer asks of the agent: a new certificate, a new version."""
        if self.renewer is not None:
            self.renewer.maybe_renew(outcome.renew_within_days)
        self._offered(outcome.update)

    def _offered(self, offer: Offer | None) -> None:
        if offer is None or self.restart:
            return
        if self.updater is None:
            if offer.version not in self.ignored_offers:
                self.ignored_offers.add(offer.version)
                log.warning(
                    "the hub offers agent %s, but this agent was not installed by install.sh (no versions/ "
                    "beside it) and cannot update itself; update it with install.sh --upgrade",
                    offer.version,
                )
            return
        if self.updater.wanted(offer) and self.updater.install(offer):
            self.restart = True
            self.stop.set()

    def _failed(self, outcome: Outcome, what: str) -> None:
        if outcome.bad_report:
            log.error("hub refused the %s for good, dropped it (HTTP %s: %s)", what, outcome.status, outcome.detail)
            return
        delay = self.backoff.next_delay(outcome.retry_after)
        if outcome.refused:
            # Resending cannot fix credentials or a wrong URL; keep the reports, ask rarely.
            delay = max(delay, REFUSED_RETRY_SECONDS)
            hint = "check the certificate or key" if outcome.status in (401, 403) else "check SERVER_URL"
            log.error(
                "hub refused us (HTTP %s: %s); %s with `python -m agent check`. "
                "Reports stay in the spool; trying again in %.0fs",
                outcome.status,
                outcome.detail,
                hint,
                delay,
            )
        else:
            log.warning("could not send %s (%s); spooled, retrying in %.1fs", what, _reason(outcome), delay)
        self.next_send = self.clock() + delay


def _reason(outcome: Outcome) -> str:
    return f"HTTP {outcome.status}: {outcome.detail}" if outcome.status else outcome.detail
