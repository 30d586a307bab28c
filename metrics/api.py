"""Ingest: agents post reports here."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import HttpError, ValidationError
from pydantic import ValidationError as PydanticValidationError

from hosts import agent_dist
from hosts.identity import AgentIdentity, identify_agent
from metrics import ingest
from metrics.models import HostGone
from metrics.schemas import (
    MAX_REPORTS_PER_BATCH,
    ReportAccepted,
    ReportBatchIn,
    ReportIn,
    ReportValid,
    report_body_json_schema,
)
from statusdash.lib import observability
from statusdash.lib.jsonparse import json_body
from statusdash.lib.schemas import ErrorOut

log = logging.getLogger("statusdash.ingest")
router = Router(tags=["metrics"])


def agent_auth(request: HttpRequest) -> AgentIdentity:
    return identify_agent(request)


def _report_body_schema() -> dict[str, Any]:
    # The body is one report or a batch; both are documented for clients and fuzzers.
    # (The component schemas are added to the document by statusdash.api.)
    body, _ = report_body_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}


# Errors listed in one 422; the rest are counted. A body of a few hundred kilobytes could
# otherwise carry a hundred thousand errors, each a dict the hub builds and sends back.
MAX_ERRORS_LISTED = 50


def parse_reports(request: HttpRequest) -> tuple[list[ReportIn], bool]:
    """The reports in the body, and whether it was the batch form."""
    data = json_body(request)
    if not isinstance(data, dict):
        raise ValidationError(
            [{"loc": ["body"], "msg": 'expected a report object or {"reports": [...]}', "type": "type_error"}]
        )
    batch = data.get("reports")
    # Counted before the schema sees it: validating 250,000 empty objects to say "too many"
    # would cost hundreds of megabytes of error objects.
    if isinstance(batch, list) and len(batch) > MAX_REPORTS_PER_BATCH:
        raise ValidationError(
            [
                {
                    "loc": ["body", "reports"],
                    "msg": f"a batch holds at most {MAX_REPORTS_PER_BATCH} reports, this one has {len(batch)}",
                    "type": "too_long",
                }
            ]
        )
    try:
        if "reports" in data:
            return ReportBatchIn.model_validate(data).reports, True
        return [ReportIn.model_validate(data)], False
    except PydanticValidationError as error:
        raise ValidationError(listed_errors(error)) from None


def listed_errors(error: PydanticValidationError) -> list[dict[str, Any]]:
    """The first MAX_ERRORS_LISTED errors with `body` in front of their location, and a
    last entry counting the others."""
    listed: list[dict[str, Any]] = [
        {**e, "loc": ["body", *e["loc"]]}
        for e in error.errors(include_url=False, include_context=False, include_input=False)[:MAX_ERRORS_LISTED]
    ]
    if error.error_count() > MAX_ERRORS_LISTED:
        listed.append(
            {
                "loc": ["body"],
                "msg": f"{error.error_count() - MAX_ERRORS_LISTED} more errors not listed",
                "type": "too_many_errors",
            }
        )
    return listed


@router.post(
    "/report",
    auth=agent_auth,
    response={
        202: ReportAccepted,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        410: ErrorOut,
        413: ErrorOut,
        503: ErrorOut,
    },
    openapi_extra=_report_body_schema(),
    exclude_none=True,  # no "update": null for agents not being updated
)
def report(request: HttpRequest) -> Status:
    """Receive one report, or a batch of up to 500 from an agent catching up.

    A resent report (same host and `collected_at`) is counted as a duplicate and
    not stored again. A batch is stored all-or-nothing, and pushes its newest report.
    """
    started = time.perf_counter()
    identity: AgentIdentity = request.auth  # type: ignore[attr-defined]
    reports, is_batch = parse_reports(request)
    mismatched = [i for i, r in enumerate(reports) if r.host is not None and r.host != identity.host.name]
    if mismatched:
        loc = ["body", "reports", mismatched[0], "host"] if is_batch else ["body", "host"]
        raise ValidationError(
            [
                {
                    "loc": loc,
                    "msg": f"host does not match the authenticated identity {identity.host.name!r}",
                    "type": "value_error",
                }
            ]
        )
    try:
        stored, duplicates, checks = ingest.ingest_reports(identity.host, [r.model_dump() for r in reports])
    except HostGone as gone:
        raise HttpError(410, str(gone)) from None
    observability.record_ingest(len(stored), duplicates, time.perf_counter() - started)
    log.info(
        "report accepted",
        extra={
            "host": identity.host.name,
            "auth": identity.method,
            "reports": len(reports),
            "accepted": len(stored),
            "duplicates": duplicates,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    answer: dict[str, Any] = {"accepted": len(stored), "duplicates": duplicates}
    if checks is not None:
        answer.update(
            checks_accepted=checks.accepted, checks_duplicates=checks.duplicates, checks_ignored=checks.ignored
        )
        if checks.ignored:
            log.info("check results ignored", extra={"host": identity.host.name, "ignored": checks.ignored})
    newest = max(reports, key=lambda r: r.collected_at)
    offer = agent_dist.update_offer(identity.host, newest.system.agent_version)
    if offer is not None:
        answer["update"] = offer
    if identity.method == "certificate":
        answer["renew_within_days"] = settings.CERT_EXPIRY_WARNING_DAYS
    return Status(202, answer)


@router.post(
    "/validate",
    auth=None,
    response={200: ReportValid, 400: ErrorOut, 413: ErrorOut},
    openapi_extra=_report_body_schema(),
)
def validate(request: HttpRequest) -> dict[str, object]:
    """Check a report or batch against the schema without storing it (no credentials needed).

    For agent authors; it also serves as the no-database ceiling in bench/ingest.py.
    """
    reports, _ = parse_reports(request)
    return {"valid": True, "reports": len(reports)}
