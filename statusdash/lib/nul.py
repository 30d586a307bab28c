"""NUL characters never reach the database: PostgreSQL stores them in no text column, so a
NUL that slipped into a query was a 500 there (and silently different on SQLite).

JSON bodies are checked by statusdash/lib/jsonparse.py, form fields by Django's own
ProhibitNullCharactersValidator; this middleware refuses them in the URL: the path (a host
name in /hosts/<name>/) and the query string.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


class RefuseNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = nul_in_url(request)
        if problem:
            return JsonResponse({"detail": f"NUL characters (%00) are not allowed: {problem}"}, status=400)
        return self.get_response(request)


def nul_in_url(request: HttpRequest) -> str | None:
    """Where a NUL is in the request's URL, or None."""
    if "\x00" in request.path:
        return "in the path"
    # Parsing the query string only when it could hold one keeps this free for everyone else.
    if "%00" in request.META.get("QUERY_STRING", "") or "\x00" in request.META.get("QUERY_STRING", ""):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return f"in the query parameter {name!r}"
    return None
