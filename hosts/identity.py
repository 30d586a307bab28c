"""Who is reporting: the one seam through which every agent request is identified.

An agent proves its identity with a verified client certificate (the CN names the
host) or, when MTLS_ENABLED is false, with an agent API key bound to one host.
Each refusal carries a reason that is returned to the agent and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from hosts.models import ApiKey, ApiKeyScope, Host, hash_key

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


def presented_api_key(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key", "").strip() or None


def client_certificate_cn(request: HttpRequest) -> str | None:
    """The CN of a client certificate the TLS layer verified, if any.

    Daphne's TLS endpoint puts the verified chain into the ASGI scope's `tls`
    extension; certificates forwarded by a trusted proxy are handled by the mTLS module.
    """
    scope = getattr(request, "scope", None) or {}
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain or tls.get("client_cert_error"):
        return None
    certificate = x509.load_pem_x509_certificate(chain[0].encode())
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


_key_cache: dict[str, tuple[float, ApiKey]] = {}
_key_cache_lock = threading.Lock()


def cached_key(raw: str) -> ApiKey | None:
    """The key for a presented secret, remembered for AUTH_CACHE_SECONDS.

    Every agent report needs its key, and most of a report's database time went to
    looking it up. Changes made in this process clear the cache at once (signals
    below); changes made elsewhere are seen within AUTH_CACHE_SECONDS.
    """
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


@receiver([post_save, post_delete], sender=ApiKey)
@receiver([post_save, post_delete], sender=Host)
def forget_cached_keys(**kwargs: object) -> None:
    with _key_cache_lock:
        _key_cache.clear()


def identify_agent(request: HttpRequest) -> AgentIdentity:
    cn = client_certificate_cn(request)
    if cn is not None:
        host = Host.objects.filter(name=cn).first()
        if host is None:
            raise IdentityRefused(403, f"certificate CN {cn!r} is not a known host")
        if not host.enabled:
            raise IdentityRefused(403, f"host {cn!r} is disabled")
        return AgentIdentity(host=host, method="certificate")

    raw = presented_api_key(request)
    if settings.MTLS_ENABLED:
        if raw:
            raise IdentityRefused(
                401, "a client certificate is required; API keys are refused while MTLS_ENABLED is on"
            )
        raise IdentityRefused(401, "a client certificate is required")
    if not raw:
        raise IdentityRefused(401, "no credentials: send a client certificate or an agent API key")
    key = cached_key(raw)
    if key is None:
        raise IdentityRefused(401, "unknown API key")
    if key.is_revoked:
        raise IdentityRefused(403, "this API key has been revoked")
    if key.scope != ApiKeyScope.AGENT or key.host is None:
        raise IdentityRefused(403, f"a {key.scope} key cannot report metrics; use the host's agent key")
    if not key.host.enabled:
        raise IdentityRefused(403, f"host {key.host.name!r} is disabled")
    key.touch()
    return AgentIdentity(host=key.host, method="api_key", api_key=key)
