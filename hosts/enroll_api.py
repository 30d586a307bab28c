"""POST /api/enroll: a new agent trades a one-time token and a CSR for its client certificate.

No other credential is needed (the agent has none yet): the token is the proof,
and it is spent only when a certificate is issued.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import Field

from hosts import pki
from hosts.models import EnrollmentRefused, EnrollmentToken
from statusdash.lib.schemas import ErrorOut

log = logging.getLogger("statusdash.enroll")
router = Router(tags=["enrollment"], auth=None)


class EnrollIn(Schema):
    token: str = Field(min_length=1, max_length=200, description="from `manage.py certs token NAME` or the admin")
    csr: str = Field(min_length=1, max_length=20_000, description="PEM certificate signing request, CN = host name")


class EnrollOut(Schema):
    host: str
    certificate: str = Field(description="the signed client certificate, PEM")
    ca: str = Field(description="the hub's CA certificate, PEM: verify the hub with it")


@router.post("", response={201: EnrollOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 503: ErrorOut})
def enroll(request: HttpRequest, payload: EnrollIn) -> Status:
    """Sign the CSR for the token's host. A wrong, used or expired token, or a CSR whose CN is
    not the token's host, is refused and the token stays as it was."""
    try:
        record = EnrollmentToken.redeem(payload.token.strip(), payload.csr)
    except EnrollmentRefused as refused:
        log.warning("enrollment refused", extra={"status": refused.status, "reason": refused.reason})
        if refused.status == 422:
            raise ValidationError([{"loc": ["body", "csr"], "msg": refused.reason, "type": "value_error"}]) from None
        raise HttpError(refused.status, refused.reason) from None
    except pki.NoCertificateAuthority as missing:
        raise HttpError(503, str(missing)) from None
    log.info("agent enrolled", extra={"host": record.common_name, "serial": record.serial})
    return Status(
        201, {"host": record.common_name, "certificate": record.pem, "ca": pki.cert_pem(pki.trusted_ca_certificate())}
    )
