"""Where a request comes from: the real client's address behind trusted proxies, and
WebSockets only from pages of this hub (the Origin must be the hub's own scheme, host and port).

Channels' AllowedHostsOriginValidator compares the Origin's host name with
ALLOWED_HOSTS and ignores the port, so a page served by anything else on the
same machine (`http://localhost:8080`) could open a socket with the user's
session cookie and read their dashboard. This applies the rule Django's CSRF
check applies to form posts: the Origin must equal this request's own
`scheme://host[:port]`, or be listed in CSRF_TRUSTED_ORIGINS (which holds
PUBLIC_URL, for a hub behind a proxy that rewrites the Host header).
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http import HttpRequest
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


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or ""


def originating_address(request: HttpRequest) -> str:
    """Who is really asking: behind a trusted proxy, the address the proxy saw (the last
    X-Forwarded-For entry, which nginx's $proxy_add_x_forwarded_for appends); else the peer."""
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    if forwarded and from_trusted_proxy(request):
        return forwarded[-1]
    return client_address(request)


def from_trusted_proxy(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in network for network in trusted_proxy_networks())


@functools.cache
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def trusted_proxy_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))
