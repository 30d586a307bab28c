"""The request a change is made in, so a model signal can tell who made it and from where.

The middleware puts the request into a context variable for the length of the view; a
receiver asks `current_request()`. Work with no request (ingest is a request, but its
caller is an agent, not a user; the scheduler, Celery tasks and management commands have
none) has no actor, and changes without an actor are not a person's: nothing is recorded.
A management command a person runs to change things (users, checks, apply, keys,
certificates) says so with `running_command()`: its changes are recorded under its name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse

from statusdash.lib.origin import originating_address

_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)
# A person at a shell: `manage.py users add …` changes as much as a click does (audit/commands.py).
_command: ContextVar[str | None] = ContextVar("audit_command", default=None)


def current_request() -> HttpRequest | None:
    return _request.get()


def current_command() -> str | None:
    """Who ran the management command this change is made in ("manage.py users (root)"), if any."""
    return _command.get()


@contextmanager
def running_command(name: str) -> Iterator[None]:
    token = _command.set(name)
    try:
        yield
    finally:
        _command.reset(token)


def actor_of(request: HttpRequest | None) -> Any:
    """The person behind a request: its session's user, or the user an API token stood for
    (django-ninja puts what authenticated into request.auth). None for anyone else."""
    if request is None:
        return None
    auth = getattr(request, "auth", None)
    if isinstance(auth, AbstractBaseUser):
        return auth
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    return None


def address_of(request: HttpRequest | None) -> str:
    return originating_address(request)[:45] if request is not None else ""


class AuditContextMiddleware:
    """Sync only, like the rest of the chain: it runs on the request's thread with the view.

    It stores the request and nothing more: asking who the user is would load the session
    on every request, ingest's included; a receiver asks only when a tracked model changes.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
