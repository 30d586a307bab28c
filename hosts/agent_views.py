"""GET /agent/install.sh, /agent/statusdash-agent-VERSION.tar.gz, /agent/SHA256SUMS.

Unauthenticated: a host being added has no credential yet, and nothing served here is
secret (the hub's URL, its CA and the agent's code). Rate-limited per client address so
that the tarball cannot be used to keep the hub busy.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.http import require_GET

from hosts import agent_dist, pki
from hosts.identity import originating_address

log = logging.getLogger("statusdash.agent_dist")
WINDOW_SECONDS = 60

View = Callable[..., HttpResponseBase]


def rate_limited(view: View) -> View:
    """At most AGENT_DOWNLOADS_PER_MINUTE requests per client address and minute, all files together."""

    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        address = hashlib.sha256(originating_address(request).encode()).hexdigest()[:32]
        key = f"agent-downloads:{address}"
        # add() opens the window at the first request; incr() keeps its expiry.
        if cache.add(key, 1, timeout=WINDOW_SECONDS):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # the window ended between add() and incr()
                cache.add(key, 1, timeout=WINDOW_SECONDS)
                count = 1
        if count > settings.AGENT_DOWNLOADS_PER_MINUTE:
            response = JsonResponse(
                {
                    "detail": f"more than {settings.AGENT_DOWNLOADS_PER_MINUTE} agent downloads a minute from this address"
                },
                status=429,
            )
            response["Retry-After"] = str(WINDOW_SECONDS)
            return response
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _no_ca() -> JsonResponse:
    return JsonResponse(
        {"detail": "this hub has no certificate authority yet (make certs, or manage.py certs init-ca)"}, status=503
    )


@require_GET
@rate_limited
def install_script(request: HttpRequest) -> HttpResponse:
    try:
        script = agent_dist.render_install_script()
    except pki.NoCertificateAuthority:
        return _no_ca()
    return HttpResponse(script, content_type="text/x-shellscript; charset=utf-8")


@require_GET
@rate_limited
def tarball(request: HttpRequest, version: str) -> HttpResponseBase:
    current = agent_dist.agent_version()
    if version != current:
        return JsonResponse(
            {"detail": f"this hub serves agent {current} only: /agent/{agent_dist.tarball_name(current)}"}, status=404
        )
    path = agent_dist.tarball_path()
    return FileResponse(path.open("rb"), content_type="application/gzip", as_attachment=True, filename=path.name)


@require_GET
@rate_limited
def checksums(request: HttpRequest) -> HttpResponse:
    try:
        script = agent_dist.render_install_script()
    except pki.NoCertificateAuthority:
        return _no_ca()
    return HttpResponse(agent_dist.sha256sums(script), content_type="text/plain; charset=utf-8")
