"""POST /api/agent/renew: an agent trades a CSR for a new key for its next client certificate.

The proof is the agent's current certificate, checked like every agent request
(hosts/identity.py): no person, no token. The report's answer tells certificate-holding
agents the hub's CERT_EXPIRY_WARNING_DAYS (`renew_within_days`); agents renew inside it.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import Field

from hosts import pki
from hosts.identity import AgentIdentity, identify_agent
from hosts.models import RenewalRefused
from statusdash.lib.schemas import ErrorOut

log = logging.getLogger("statusdash.enroll")
router = Router(tags=["enrollment"], auth=identify_agent)


class RenewIn(Schema):
    csr: str = Field(
        min_length=1, max_length=20_000, description="PEM certificate signing request for a new key, CN = host name"
    )


class RenewOut(Schema):
    host: str
    certificate: str = Field(description="the new client certificate, PEM")


@router.post("/renew", response={201: RenewOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 503: ErrorOut})
def renew(request: HttpRequest, payload: RenewIn) -> Status:
    """Sign the CSR for the host whose client certificate made the request. The old
    certificate stays valid until the new one is first used, then it is revoked."""
    identity: AgentIdentity = request.auth  # type: ignore[attr-defined]
    if identity.certificate is None:
        raise HttpError(403, "renewal needs the agent's current client certificate; an API key cannot renew one")
    try:
        record = identity.certificate.renew(payload.csr)
    except RenewalRefused as refused:
        log.warning("renewal refused", extra={"host": identity.host.name, "reason": refused.reason})
        if refused.status == 422:
            raise ValidationError([{"loc": ["body", "csr"], "msg": refused.reason, "type": "value_error"}]) from None
        raise HttpError(refused.status, refused.reason) from None
    except pki.NoCertificateAuthority as missing:
        raise HttpError(503, str(missing)) from None
    log.info(
        "agent certificate renewed",
        extra={"host": record.common_name, "serial": record.serial, "renewed_from": identity.certificate.serial},
    )
    return Status(201, {"host": record.common_name, "certificate": record.pem})
