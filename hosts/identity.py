"""Who is reporting: the one seam through which every agent request is identified.

An agent proves its identity with a verified client certificate (the CN names the
host) or, when MTLS_ENABLED is false, with an agent API key bound to one host.
Each refusal carries a reason that is returned to the agent and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from hosts import pki
from hosts.models import ApiKey, ApiKeyScope, Certificate, CertificateRefused, CredentialGeneration, Host, hash_key

# originating_address moved to statusdash.lib.origin (the audit trail, below hosts, needs it); still importable here.
from statusdash.lib.origin import client_address, from_trusted_proxy
from statusdash.lib.origin import originating_address as originating_address

log = logging.getLogger(__name__)


class IdentityRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class AgentIdentity:
    host: Host
    method: str  # "certificate" or "api_key"
    api_key: ApiKey | None = None
    certificate: Certificate | None = None


def presented_api_key(request: HttpRequest) -> str | None:
    """The secret in `Authorization: Bearer sd_...` or `X-API-Key: sd_...`, if any."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key", "").strip() or None


SERVICE_KEY_HINT = "create one with `python manage.py apikey create --service NAME`"
# What a key of another scope is told, by the scope that was needed.
WRONG_SCOPE = {
    ApiKeyScope.AGENT: "a {scope} key cannot report metrics; use the host's agent key",
    ApiKeyScope.READ: "a {scope} key cannot read this; use a read key",
    ApiKeyScope.SERVICE: "a {scope} key cannot send events; " + SERVICE_KEY_HINT,
}


def require_key(raw: str, scope: str, lookup: Callable[[str], ApiKey | None] | None = None) -> ApiKey:
    """The usable key of `scope` for a presented secret, its use recorded; else IdentityRefused.

    Every way in by API key goes through here: agents, readers, services, scrapers.
    `lookup` finds the key (default: the database; agents pass the cached lookup).
    """
    key = (lookup or ApiKey.objects.find)(raw)
    if key is None:
        raise IdentityRefused(401, "unknown API key")
    if key.is_revoked:
        raise IdentityRefused(403, "this API key has been revoked")
    # An agent key is bound to a host and a service key to a service; a key without its binding is no use.
    unbound = (scope == ApiKeyScope.AGENT and key.host_id is None) or (scope == ApiKeyScope.SERVICE and not key.service)
    if key.scope != scope or unbound:
        raise IdentityRefused(403, WRONG_SCOPE[ApiKeyScope(scope)].format(scope=key.scope))
    key.touch()
    return key


FORWARDED_HEADERS = ("X-SSL-Client-Verify", "X-SSL-Client-S-DN", "X-SSL-Client-Cert", "X-SSL-Client-Fingerprint")


def tls_certificate(request: HttpRequest) -> tuple[x509.Certificate | None, str]:
    """The client certificate Daphne's TLS endpoint (statusdash/lib/tls.py) put into the ASGI scope,
    and OpenSSL's verification error, if any."""
    scope = getattr(request, "scope", None) or {}
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None, ""
    return pki.load_certificate(chain[0]), tls.get("client_cert_error") or ""


def forwarded_certificate(request: HttpRequest) -> x509.Certificate | None:
    """The client certificate a trusted reverse proxy verified and forwarded (deploy/nginx)."""
    verify = request.headers.get("X-SSL-Client-Verify", "").strip()
    if not verify or verify == "NONE":
        return None
    if verify != "SUCCESS":
        raise IdentityRefused(403, f"client certificate refused by the proxy: {verify}")
    escaped = request.headers.get("X-SSL-Client-Cert", "")
    if not escaped:
        raise IdentityRefused(403, "the proxy verified a certificate but did not forward it (X-SSL-Client-Cert)")
    try:
        return pki.load_certificate(unquote(escaped))
    except pki.CertificateProblem as problem:
        raise IdentityRefused(400, f"X-SSL-Client-Cert: {problem}") from None


def presented_certificate(request: HttpRequest) -> tuple[x509.Certificate | None, str]:
    """The client certificate from the TLS layer or a trusted proxy, and OpenSSL's complaint if any."""
    certificate, tls_error = tls_certificate(request)
    if certificate is not None:
        return certificate, tls_error
    forwarded = any(request.headers.get(name) for name in FORWARDED_HEADERS)
    if forwarded and from_trusted_proxy(request):
        return forwarded_certificate(request), ""
    if forwarded:
        log.warning("ignored X-SSL-Client headers from untrusted address", extra={"client": client_address(request)})
        if settings.MTLS_ENABLED:
            raise IdentityRefused(
                403,
                f"X-SSL-Client headers from {client_address(request)} are ignored: "
                "it is not in TRUSTED_PROXIES; present the certificate over TLS",
            )
    return None, ""


_certificate_cache: dict[str, tuple[float, AgentIdentity]] = {}
_certificate_cache_lock = threading.Lock()


def certificate_identity(certificate: x509.Certificate) -> AgentIdentity:
    """The host a client certificate names, remembered for AUTH_CACHE_SECONDS once accepted.

    The full check (a CA signature, a revocation row, the host) costs over a
    millisecond per report; a cached answer is dropped when a certificate or host
    changes (see forget_if_changed_elsewhere), and expiry is checked on every request.
    """
    forget_if_changed_elsewhere()
    fingerprint = pki.fingerprint(certificate)
    hit = _certificate_cache.get(fingerprint)
    if hit is not None and hit[0] > time.monotonic() and timezone.now() <= certificate.not_valid_after_utc:
        return hit[1]
    identity = _check_certificate(certificate)
    if settings.AUTH_CACHE_SECONDS:
        with _certificate_cache_lock:
            _certificate_cache[fingerprint] = (time.monotonic() + settings.AUTH_CACHE_SECONDS, identity)
    return identity


def _check_certificate(certificate: x509.Certificate) -> AgentIdentity:
    try:
        record = Certificate.objects.check_client(certificate)
    except CertificateRefused as refused:
        raise IdentityRefused(403, f"client certificate refused: {refused}") from None
    cn = pki.common_name(certificate.subject) or ""
    # The host is the one the certificate was issued for, by its row, not whichever host has the name now.
    host = record.host
    if host is None and not Host.objects.filter(name=cn).exists():
        raise IdentityRefused(403, f"certificate CN {cn!r} is not a known host")
    if host is None:
        raise IdentityRefused(403, f"certificate was issued for a host {cn!r} that was deleted since; enroll again")
    if host.name != cn:
        raise IdentityRefused(403, f"certificate was issued for host {cn!r}, renamed {host.name!r} since; enroll again")
    if not host.enabled:
        raise IdentityRefused(403, f"host {cn!r} is disabled")
    # The first use of a renewed certificate shows that its agent holds it: the old one can go.
    record.supersede_predecessor()
    return AgentIdentity(host=host, method="certificate", certificate=record)


_key_cache: dict[str, tuple[float, ApiKey]] = {}
_key_cache_lock = threading.Lock()


def cached_key(raw: str) -> ApiKey | None:
    """The key for a presented secret, remembered for AUTH_CACHE_SECONDS.

    Every agent report needs its key, and most of a report's database time went to
    looking it up. Changes made in this process clear the cache at once; changes
    made elsewhere within CREDENTIAL_CHECK_SECONDS (forget_if_changed_elsewhere).
    """
    forget_if_changed_elsewhere()
    hashed = hash_key(raw)
    now = time.monotonic()
    hit = _key_cache.get(hashed)
    if hit is not None and hit[0] > now:
        return hit[1]
    key = ApiKey.objects.find(raw)
    if key is not None and settings.AUTH_CACHE_SECONDS:
        with _key_cache_lock:
            _key_cache[hashed] = (now + settings.AUTH_CACHE_SECONDS, key)
    return key


def forget_cached_keys(**kwargs: object) -> None:
    with _key_cache_lock:
        _key_cache.clear()
    with _certificate_cache_lock:
        _certificate_cache.clear()


def credentials_changed(**kwargs: object) -> None:
    """A key, certificate or host was saved or deleted: forget here, and tell other processes."""
    forget_cached_keys()
    CredentialGeneration.bump()  # in the change's transaction: others see both or neither


_generation_seen: int | None = None
_generation_checked_at = 0.0


def forget_if_changed_elsewhere() -> None:
    """Drop the caches when another process changed a credential since we last looked.

    One single-row read at most every CREDENTIAL_CHECK_SECONDS, instead of a key or
    certificate lookup per report: a revocation made anywhere holds here within that.
    """
    global _generation_seen, _generation_checked_at
    now = time.monotonic()
    if now - _generation_checked_at < settings.CREDENTIAL_CHECK_SECONDS:
        return
    generation = CredentialGeneration.current()
    if generation != _generation_seen:
        forget_cached_keys()
        _generation_seen = generation
    _generation_checked_at = now


def identify_agent(request: HttpRequest) -> AgentIdentity:
    try:
        return _identify_agent(request)
    except IdentityRefused as refused:
        log.warning(
            "agent refused",
            extra={"client": client_address(request), "status": refused.status, "reason": refused.reason},
        )
        raise


def _identify_agent(request: HttpRequest) -> AgentIdentity:
    certificate, tls_error = presented_certificate(request)
    if certificate is not None:
        # Our own check runs first because its reasons are clearer than OpenSSL's;
        # OpenSSL's verdict (which also weighs key usage) still has the last word.
        identity = certificate_identity(certificate)
        if tls_error:
            raise IdentityRefused(403, f"client certificate refused: {tls_error}")
        return identity

    raw = presented_api_key(request)
    if settings.MTLS_ENABLED:
        if raw:
            raise IdentityRefused(
                401, "a client certificate is required; API keys are refused while MTLS_ENABLED is on"
            )
        raise IdentityRefused(401, "a client certificate is required")
    if not raw:
        raise IdentityRefused(401, "no credentials: send a client certificate or an agent API key")
    key = require_key(raw, ApiKeyScope.AGENT, lookup=cached_key)
    assert key.host is not None  # require_key checked the binding
    if not key.host.enabled:
        raise IdentityRefused(403, f"host {key.host.name!r} is disabled")
    return AgentIdentity(host=key.host, method="api_key", api_key=key)
