"""WebSockets only from pages of this hub: the Origin must be the hub's own scheme, host and port.

Channels' AllowedHostsOriginValidator compares the Origin's host name with
ALLOWED_HOSTS and ignores the port, so a page served by anything else on the
same machine (`http://localhost:8080`) could open a socket with the user's
session cookie and read their dashboard. This applies the rule Django's CSRF
check applies to form posts: the Origin must equal this request's own
`scheme://host[:port]`, or be listed in CSRF_TRUSTED_ORIGINS (which holds
PUBLIC_URL, for a hub behind a proxy that rewrites the Host header).
"""

from __future__ import annotations

from typing import Any

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def allowed_origin(origin: str, host: str) -> bool:
    """Whether a socket opened by a page at `origin` may talk to this hub, reached as `host`."""
    origin, host = origin.strip().lower(), host.strip().lower()
    if not origin or not host:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    # Either scheme: one host and port cannot serve both, and TLS may end at a proxy.
    own = {f"http://{host}", f"https://{host}"}
    trusted = {o.lower().rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}
    return origin in own or origin in trusted


class SameOriginValidator:
    """ASGI middleware: refuse a WebSocket whose Origin is not this hub (see the module docstring)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        headers = {name: value.decode("latin1") for name, value in scope.get("headers", [])}
        if allowed_origin(headers.get(b"origin", ""), headers.get(b"host", "")):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
