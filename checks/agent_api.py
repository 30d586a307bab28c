"""GET /api/agent/checks: the checks an agent runs, for that agent only.

Authenticated exactly like its reports (hosts/identity.py: a client certificate, or an
agent key where mutual TLS is off). The answer carries an ETag, a digest of the list:
an agent asks every minute with If-None-Match, and an unchanged list costs a 304 with
no body. HTTP credentials of a check go to the agents that run it, over this
authenticated channel, and nowhere else (the /api/checks answers never show them).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.responses import NinjaJSONEncoder

from checks.models import Check
from hosts.identity import AgentIdentity, identify_agent
from statusdash.lib.schemas import ErrorOut

router = Router(tags=["agent"], auth=identify_agent)


class AgentCheckOut(Schema):
    id: int
    name: str
    kind: str
    target: str
    interval: int
    timeout: float
    options: dict[str, Any]
    # Set only for HTTP checks that use them; secrets, sent to the assigned agent alone.
    username: str = ""
    password: str = ""
    bearer_token: str = ""


class AgentChecksOut(Schema):
    checks: list[AgentCheckOut]


def as_agent_check(check: Check) -> dict[str, Any]:
    return AgentCheckOut(
        id=check.pk,
        name=check.name,
        kind=check.kind,
        target=check.target,
        interval=check.interval,
        timeout=check.timeout,
        options=check.options or {},
        username=check.username,
        password=check.password,
        bearer_token=check.bearer_token,
    ).model_dump()


def etag_of(body: bytes) -> str:
    # Strong: the body is canonical JSON (sorted keys), so the same list is the same bytes.
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 weak comparison of If-None-Match (a list, or *) with our ETag."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


@router.get(
    "/checks",
    response={200: AgentChecksOut, 304: None, 401: ErrorOut, 403: ErrorOut},
    summary="The checks this agent runs",
)
def agent_checks(request: HttpRequest) -> HttpResponse:
    """The enabled checks assigned to the calling agent's host: to it by name, or to a tag it has.

    Send the last answer's `ETag` in `If-None-Match`: while the list is unchanged the
    answer is 304 with no body.
    """
    identity: AgentIdentity = request.auth  # type: ignore[attr-defined]
    payload = {"checks": [as_agent_check(check) for check in Check.objects.for_agent(identity.host)]}
    body = json.dumps(payload, cls=NinjaJSONEncoder, sort_keys=True, separators=(",", ":")).encode()
    etag = etag_of(body)
    # Private: the body holds secrets; no shared cache may keep it.
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response
