"""Send reports to the hub over one persistent HTTPS session.

send() makes exactly one attempt and classifies the answer; when to try again is the
daemon's decision (see Backoff), so a caller never blocks in a hidden retry loop.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

import requests

from agent import __version__
from agent.config import Config
from agent.update import Offer, parse_offer

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # the hub's limit on the raw (uncompressed) body
MAX_BATCH = 500  # the hub's limit on reports per batch

# The report itself is at fault: resending the same body cannot help.
BAD_REPORT = frozenset({400, 413, 422})
# Worth trying again soon: the hub is busy or briefly failing.
TRANSIENT = frozenset({408, 429})
MAX_RETRY_AFTER = 3600.0  # a bogus Retry-After must not silence the agent for days
GZIP = {"Content-Encoding": "gzip"}
REPORT_PATH = "/api/metrics/report"


class Outcome(NamedTuple):
    """The result of one attempt.

    ok: stored (or already stored). retry: transient, try again with backoff.
    bad_report: the hub rejects this body; drop it. refused: the hub refuses us
    (credentials, disabled host, wrong URL); keep the reports and ask again rarely.
    """

    ok: bool
    retry: bool
    status: int | None = None
    detail: str = ""
    retry_after: float | None = None
    accepted: int = 0
    duplicates: int = 0
    update: Offer | None = None  # the hub's newer agent, offered in a 2xx answer
    renew_within_days: int | None = None  # a hub that renews certificates says when (agent/renew.py)

    @property
    def bad_report(self) -> bool:
        return self.status in BAD_REPORT

    @property
    def refused(self) -> bool:
        return not (self.ok or self.retry or self.bad_report)


class Transport:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.url = config.report_url
        self.timeout = config.request_timeout
        self.session = self._session()
        # Passed with every request: a session-level verify loses to REQUESTS_CA_BUNDLE
        # in the environment, which would silently replace TLS_CA.
        self.verify: str | bool = config.tls_ca or True

    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update(
            {
                "User-Agent": f"statusdash-agent/{__version__}",
                "Content-Type": "application/json",
            }
        )
        if self.config.mtls_enabled:
            session.cert = (self.config.tls_cert, self.config.tls_key)
        else:
            session.headers["Authorization"] = f"Bearer {self.config.api_key}"
        return session

    def reconnect(self) -> None:
        """Drop the kept-alive connections: the next request shakes hands with the files as they are now
        (a renewed certificate and key)."""
        self.session.close()
        self.session = self._session()

    def send(self, body: bytes) -> Outcome:
        """POST one JSON body (a report or a batch); body is the raw, uncompressed JSON."""
        try:
            response = self.session.post(
                self.url,
                data=gzip.compress(body, compresslevel=6),
                headers=GZIP,
                timeout=self.timeout,
                verify=self.verify,
            )
        except requests.exceptions.SSLError as exc:
            return Outcome(ok=False, retry=True, detail=f"TLS error: {exc}")
        except requests.RequestException as exc:
            return Outcome(ok=False, retry=True, detail=f"{type(exc).__name__}: {exc}")
        return classify(response)

    @property
    def base_url(self) -> str:
        return self.url[: -len(REPORT_PATH)] if self.url.endswith(REPORT_PATH) else self.url

    def post_json(self, path: str, payload: dict) -> requests.Response:
        """POST JSON to a path on the hub over this session (the same client certificate)."""
        return self.session.post(
            self.base_url + path, data=json.dumps(payload), timeout=self.timeout, verify=self.verify
        )

    def get(self, path: str, headers: dict[str, str]) -> requests.Response:
        """GET a path on the hub over this session (the same client certificate or key)."""
        return self.session.get(self.base_url + path, headers=headers, timeout=self.timeout, verify=self.verify)

    def fetch(self, path: str, max_bytes: int) -> bytes:
        """GET a path on the hub over this session (the same client certificate); OSError on failure."""
        with self.session.get(self.base_url + path, timeout=self.timeout, verify=self.verify, stream=True) as response:
            if response.status_code != 200:
                raise OSError(f"HTTP {response.status_code}: {_detail(_json_or_none(response)) or response.reason}")
            data = b""
            for chunk in response.iter_content(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise OSError(f"more than {max_bytes} bytes")
            return data

    def close(self) -> None:
        self.session.close()


def classify(response: requests.Response) -> Outcome:
    status = response.status_code
    payload = _json_or_none(response)
    if 200 <= status < 300:
        counts = payload if isinstance(payload, dict) else {}
        return Outcome(
            ok=True,
            retry=False,
            status=status,
            accepted=int(counts.get("accepted", 0) or 0),
            duplicates=int(counts.get("duplicates", 0) or 0),
            update=parse_offer(counts.get("update")),
            renew_within_days=_days(counts.get("renew_within_days")),
        )
    detail = _detail(payload) or response.text[:300] or response.reason or ""
    return Outcome(
        ok=False,
        retry=status >= 500 or status in TRANSIENT,
        status=status,
        detail=detail,
        retry_after=_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None,
    )


def encode(reports: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    """JSON body for one report (a dict) or a batch (a list) in the hub's batch form."""
    payload = {"reports": reports} if isinstance(reports, list) else reports
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


class Backoff:
    """Exponential backoff with jitter (between half and all of the step).

    The 60 s cap bounds how long a recovered hub waits for the backlog (and shows
    hosts as stale). Retry-After, when the hub sends one, is a floor.
    """

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0
        self.rng = rng or random.Random()

    def next_delay(self, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        delay = self.rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay

    def reset(self) -> None:
        self.failures = 0


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(payload: Any) -> str:
    if not isinstance(payload, dict) or "detail" not in payload:
        return ""
    detail = payload["detail"]
    if isinstance(detail, list):  # validation errors: [{"loc": [...], "msg": ...}]
        parts = []
        for item in detail[:5]:
            if isinstance(item, dict):
                where = ".".join(str(x) for x in item.get("loc", []))
                parts.append(f"{where}: {item.get('msg', '')}".strip(": "))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _days(value: Any) -> int | None:
    """A day count from the hub, or None for anything odd (an odd answer never stops the reporting)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        return None
    return value


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
