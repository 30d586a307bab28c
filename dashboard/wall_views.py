"""The wall screen's page (`/wall/`): for a dashboard user, or a screen with a read key in its URL."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from accounts.rights import VIEW, may
from dashboard import wall
from dashboard.wall_access import TOKEN_PARAM, WallRefused, reader_for

THEMES = ("dark", "light")


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@never_cache  # live data, and with a token the URL is a credential: no cache keeps a copy
@require_GET
def wall_screen(request: HtmxHttpRequest) -> HttpResponse:
    """The wall. A token, when given, decides alone: a wrong one is refused even for a logged-in
    user, so whoever sets up the screen learns now, not when their session ends. An htmx request
    (the page catching up after a reconnect) gets the live part alone."""
    token = request.GET.get(TOKEN_PARAM)
    if token is not None:
        try:
            reader_for(token)
        except WallRefused as refused:
            return render(request, "wall/refused.html", {"reason": refused.reason}, status=403)
    elif not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    elif not may(request.user, VIEW):
        raise PermissionDenied("the wall needs the viewer role or higher")
    theme = request.GET.get("theme", "dark")
    if theme not in THEMES:
        context = {"reason": f"theme must be one of {', '.join(THEMES)}", "field": "theme"}
        return render(request, "wall/refused.html", context, status=400)
    context = {**wall.board(), "theme": theme}
    if request.htmx:
        return render(request, "wall/_wall_board.html", context)
    socket = "/ws/wall/" + (f"?{urlencode({TOKEN_PARAM: token})}" if token is not None else "")
    return render(request, "wall/wall.html", {**context, "socket_url": socket})
