"""statusdash's command line for scripts: silences, alerts and configuration files, over the hub's API.

    python -m statusdash.client silence add --host web-1 --for 30m --reason deploy
    python -m statusdash.client alerts list --firing

It needs only `requests` (like the agent) and this one file, which runs on its own too
(`python client.py …`, with Python 3.9 or newer): copy it to any machine that can reach
the hub. The hub's URL and a token come from --url/--token or STATUSDASH_URL/STATUSDASH_TOKEN.
Exit codes: 0 done, 2 refused (the hub's 4xx, a bad argument, no hub at that address),
1 the hub failed (5xx after retries).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from typing import Any

import requests

USAGE_ERROR = 2
HUB_FAILED = 1
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION = re.compile(r"(\d+)([smhdw])")
# A POST that met a dropped connection or a hub restarting is sent again with the same
# Idempotency-Key, so the hub creates one silence however many times it arrives.
RETRIES = 2
RETRY_STATUSES = (502, 503, 504)
RETRY_PAUSE_SECONDS = 1.0


class Refused(Exception):
    """Something the user must fix: exit 2 with this message."""


class HubFailed(Exception):
    """The hub answered 5xx (after retries): exit 1."""


def parse_duration(text: str) -> int:
    """Seconds in 90s, 30m, 2h, 1d, 1w or a sum like 1h30m."""
    cleaned = text.strip().lower()
    if not cleaned or DURATION.sub("", cleaned) != "":
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 2h, 1d or 1h30m")
    seconds = sum(int(number) * DURATION_UNITS[unit] for number, unit in DURATION.findall(cleaned))
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be longer than zero")
    return seconds


class Hub:
    """The hub's API with a token: one requests session, errors turned into Refused or HubFailed."""

    def __init__(self, url: str, token: str, timeout: float = 30, ca: str | None = None) -> None:
        if not url:
            raise Refused("no hub URL: give --url or set STATUSDASH_URL (e.g. https://status.example.com)")
        if not url.startswith(("http://", "https://")):
            raise Refused(f"the hub URL {url!r} must start with http:// or https://")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "statusdash-client"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        if ca:
            self.session.verify = ca

    def call(
        self,
        method: str,
        path: str,
        *,
        create: bool = False,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        text_body: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if create else {}
        if text_body is not None:
            headers["Content-Type"] = "application/yaml; charset=utf-8"
        # Every command is safe to send twice: reads, acknowledging, expiring and applying
        # by nature, creating by its Idempotency-Key.
        attempts = RETRIES + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self.session.request(
                    method,
                    f"{self.url}{path}",
                    params=params,
                    json=json_body,
                    data=text_body.encode("utf-8") if text_body is not None else None,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.exceptions.SSLError as error:
                raise Refused(f"TLS with {self.url} failed (--ca gives the hub's CA): {error}") from None
            except requests.exceptions.ConnectionError as error:
                if last:
                    raise Refused(f"cannot reach the hub at {self.url}: {reason(error)}") from None
            except requests.exceptions.Timeout:
                if last:
                    raise Refused(f"the hub at {self.url} did not answer within {self.timeout:g} s") from None
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return self._answer(response)
            time.sleep(RETRY_PAUSE_SECONDS)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _answer(self, response: requests.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 500:
            raise HubFailed(f"the hub failed ({response.status_code}): {detail(body) or response.text[:300]}")
        if response.status_code >= 400:
            raise Refused(f"the hub refused ({response.status_code}): {detail(body) or response.text[:300]}")
        return body


def reason(error: Exception) -> str:
    text = str(error)
    return "connection refused" if "refused" in text.lower() else text


def detail(body: Any) -> str:
    """The hub's error: its sentence, or each invalid field on a line of its own."""
    if not isinstance(body, dict) or "detail" not in body:
        return ""
    found = body["detail"]
    if isinstance(found, list):
        return "\n" + "\n".join(f"  {describe_problem(problem)}" for problem in found)
    return str(found)


def describe_problem(problem: Any) -> str:
    if not isinstance(problem, dict):
        return str(problem)
    loc = [str(part) for part in problem.get("loc", []) if part != "body"]
    line = f"line {problem['line']}: " if problem.get("line") else ""
    where = ".".join(loc)
    return f"{line}{where}: {problem.get('msg', '')}" if where else f"{line}{problem.get('msg', '')}"


# --- commands ------------------------------------------------------------------------------


def silence_add(hub: Hub, args: argparse.Namespace) -> Any:
    body: dict[str, Any] = {"duration_seconds": args.duration, "reason": args.reason}
    for scope in ("host", "tag", "service", "rule"):
        if getattr(args, scope):
            body[scope] = getattr(args, scope)
    answer = hub.call("POST", "/api/silences", create=True, json_body=body)
    if args.json:
        return answer
    scope = ", ".join(f"{name} {value}" for name, value in body.items() if name in ("host", "tag", "service", "rule"))
    return f"silence {answer['id']} on {scope} until {answer['ends_at']}"


def silence_expire(hub: Hub, args: argparse.Namespace) -> Any:
    answer = hub.call("POST", f"/api/silences/{args.id}/expire")
    return answer if args.json else f"silence {args.id} expired"


def alerts_list(hub: Hub, args: argparse.Namespace) -> Any:
    params: dict[str, Any] = {"state": "firing"} if args.firing else {}
    items: list[dict[str, Any]] = []
    while True:
        page = hub.call("GET", "/api/alerts", params=params)
        items.extend(page.get("items", []))
        cursor = page.get("next_cursor")
        if not cursor or (args.limit and len(items) >= args.limit):
            break
        params = {**params, "cursor": cursor}
    if args.limit:
        items = items[: args.limit]
    if args.json:
        return items
    if not items:
        return "no firing alerts" if args.firing else "no alerts"
    rows = [["ID", "STATE", "SEVERITY", "ABOUT", "RULE", "SINCE", "ACK", "SUMMARY"]]
    for alert in items:
        about = alert.get("host") or (f"service {alert['service']}" if alert.get("service") else "hub")
        rows.append(
            [
                str(alert.get("id", "")),
                str(alert.get("state", "")),
                str(alert.get("severity", "")),
                str(about),
                str(alert.get("rule", "")),
                str(alert.get("started_at", "")),
                "yes" if alert.get("acknowledged") else "no",
                str(alert.get("summary", "")),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(row[i].ljust(w) for i, w in enumerate(widths)), row[-1]]) for row in rows)


def alerts_ack(hub: Hub, args: argparse.Namespace) -> Any:
    answer = hub.call("POST", f"/api/alerts/{args.id}/ack", json_body={"note": args.note})
    return answer if args.json else f"alert {args.id} acknowledged"


def apply_file(hub: Hub, args: argparse.Namespace) -> Any:
    try:
        with open(args.file, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as error:
        raise Refused(f"cannot read {args.file}: {error}") from None
    params = {"dry_run": "true" if args.dry_run else "false", "prune": "true" if args.prune else "false"}
    try:
        answer = hub.call("POST", "/api/config/apply", params=params, text_body=text)
    except Refused as refused:
        raise Refused(str(refused).replace("\n  ", f"\n  {args.file}: ")) from None
    if args.json:
        return answer
    return answer["diff"] + ("\n(dry run: nothing was changed)" if args.dry_run and answer["changes"] else "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statusdash", description="Talk to a statusdash hub from scripts (silences, alerts, configuration)."
    )
    parser.add_argument("--url", default=os.environ.get("STATUSDASH_URL", ""), help="the hub (env STATUSDASH_URL)")
    parser.add_argument(
        "--token", default=os.environ.get("STATUSDASH_TOKEN", ""), help="a bearer token (env STATUSDASH_TOKEN)"
    )
    parser.add_argument(
        "--ca", default=os.environ.get("STATUSDASH_CA") or None, help="the hub's CA file (env STATUSDASH_CA)"
    )
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for each answer")
    parser.add_argument("--json", action="store_true", help="print the hub's JSON answer")
    commands = parser.add_subparsers(dest="command", required=True)

    silence = commands.add_parser("silence", help="silence notifications for a while").add_subparsers(
        dest="action", required=True
    )
    add = silence.add_parser("add", help="silence a host, tag, service or rule")
    scope = add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--host", help="a host by name")
    scope.add_argument("--tag", help="every host with this tag")
    scope.add_argument("--service", help="a service (or check) by name")
    scope.add_argument("--rule", help="the alerts of one rule")
    add.add_argument("--for", dest="duration", type=parse_duration, required=True, help="how long: 30m, 2h, 1d")
    add.add_argument("--reason", required=True, help="why (shown with the silence)")
    add.set_defaults(run=silence_add)
    expire = silence.add_parser("expire", help="end a silence now")
    expire.add_argument("id")
    expire.set_defaults(run=silence_expire)

    alerts = commands.add_parser("alerts", help="list and acknowledge alerts").add_subparsers(
        dest="action", required=True
    )
    listing = alerts.add_parser("list", help="list alerts, newest first")
    listing.add_argument("--firing", action="store_true", help="only firing ones")
    listing.add_argument("--limit", type=int, default=0, help="at most this many")
    listing.set_defaults(run=alerts_list)
    ack = alerts.add_parser("ack", help="acknowledge an alert (stops its reminders)")
    ack.add_argument("id")
    ack.add_argument("--note", default="", help="a note kept with the acknowledgement")
    ack.set_defaults(run=alerts_ack)

    apply = commands.add_parser("apply", help="make the hub match a configuration file (admins)")
    apply.add_argument("file")
    apply.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    apply.add_argument("--prune", action="store_true", help="remove what the file's kinds do not name")
    apply.set_defaults(run=apply_file)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        hub = Hub(args.url, args.token, timeout=args.timeout, ca=args.ca)
        result = args.run(hub, args)
    except Refused as refused:
        print(f"statusdash: {refused}", file=sys.stderr)
        return USAGE_ERROR
    except HubFailed as failed:
        print(f"statusdash: {failed}", file=sys.stderr)
        return HUB_FAILED
    print(json.dumps(result, indent=2) if args.json else result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
