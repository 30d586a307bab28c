"""Ingest: agents post reports here."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status
from ninja.errors import ValidationError
from pydantic import ValidationError as PydanticValidationError

from hosts.identity import AgentIdentity, identify_agent
from metrics import ingest
from metrics.schemas import (
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


def parse_reports(request: HttpRequest) -> tuple[list[ReportIn], bool]:
    """The reports in the body, and whether it was the batch form."""
    data = json_body(request)
    if not isinstance(data, dict):
        raise ValidationError(
            [{"loc": ["body"], "msg": 'expected a report object or {"reports": [...]}', "type": "type_error"}]
        )
    try:
        if "reports" in data:
            return ReportBatchIn.model_validate(data).reports, True
        return [ReportIn.model_validate(data)], False
    except PydanticValidationError as error:
        raise ValidationError(
            [
                {**e, "loc": ["body", *e["loc"]]}
                for e in error.errors(include_url=False, include_context=False, include_input=False)
            ]
        ) from None


@router.post(
    "/report",
    auth=agent_auth,
    response={202: ReportAccepted, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 413: ErrorOut, 503: ErrorOut},
    openapi_extra=_report_body_schema(),
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
    stored, duplicates = ingest.store_reports(identity.host, [r.model_dump() for r in reports])
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
    return Status(202, {"accepted": len(stored), "duplicates": duplicates})


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
