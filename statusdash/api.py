"""The one NinjaAPI: each app adds its router; errors are JSON with a `detail`."""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AbstractBaseUser
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from ninja import Field, NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts import two_factor
from accounts.login_throttle import LoginThrottle
from alerts.alertmanager_api import router as alertmanager_router
from alerts.api import router as alerts_router
from alerts.channel_api import router as channels_router
from alerts.rule_api import router as rules_router
from alerts.silence_api import router as silences_router
from audit import trail as audit_trail
from audit.models import AuditAction
from checks.agent_api import router as agent_checks_router
from checks.api import router as checks_router
from configfile.api import router as config_router
from dashboard.api import router as hosts_router
from hosts.auth import issue_token
from hosts.enroll_api import router as enroll_router
from hosts.identity import AgentIdentity, IdentityRefused, originating_address
from hosts.models import ApiKey
from hosts.renew_api import router as renew_router
from hosts.token_api import router as tokens_router
from metrics.api import router as metrics_router
from metrics.schemas import report_body_json_schema
from services.api import router as events_router
from services.api import services_router
from statusdash.lib.jsonparse import StrictJSONParser
from statusdash.lib.observability import record_rejection
from statusdash.lib.schemas import ErrorOut

request_log = logging.getLogger("statusdash.request")


def _identity(request: HttpRequest) -> str:
    """Who made the request, for the log: never a secret, only names and key prefixes."""
    who = getattr(request, "auth", None)
    if isinstance(who, AgentIdentity):
        return f"host:{who.host.name}"
    if isinstance(who, ApiKey):
        return f"key:{who.prefix}"
    if isinstance(who, AbstractBaseUser):
        return f"user:{who.get_username()}"
    return "-"


def logged_api_view(view: Callable[..., Any]) -> Callable[..., Any]:
    """One key=value line per API request (method, path, status, ms, identity), and the
    count of refused ingest requests. Wraps the API's views instead of adding a middleware,
    which under ASGI would cost every request a thread hop."""

    def finished(request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        record_rejection(request.path, response.status_code)
        request_log.info(
            "api request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "identity": _identity(request),
            },
        )
        return response

    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def logged_async(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            started = time.perf_counter()
            return finished(request, await view(request, *args, **kwargs), started)

        return logged_async

    @functools.wraps(view)
    def logged(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        started = time.perf_counter()
        return finished(request, view(request, *args, **kwargs), started)

    return logged


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        }
    },
}


def _error(description: str, component: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
    }


class StatusdashAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        # Bodies parsed by hand (the report endpoints) document their models here.
        schema["components"]["schemas"].update(report_body_json_schema()[1])
        schema["components"]["schemas"]["ValidationErrorOut"] = VALIDATION_ERROR_SCHEMA
        # Answers every operation can give, whatever its handler declares (found by fuzzing
        # the document: clients and fuzzers must not meet undocumented codes).
        for item in schema["paths"].values():
            for operation in item.values():
                responses = operation["responses"]
                if operation.get("requestBody"):
                    responses.setdefault("400", _error("The body is not JSON, or not readable", "ErrorOut"))
                    responses.setdefault("413", _error("The body is too large", "ErrorOut"))
                    responses.setdefault(
                        "415",
                        _error("A Content-Encoding the endpoint does not take (gzip needs credentials)", "ErrorOut"),
                    )
                if operation.get("parameters"):
                    # The NUL check (statusdash/lib/nul.py) answers before any handler.
                    responses.setdefault("400", _error("The URL carries a NUL character (%00)", "ErrorOut"))
                if operation.get("requestBody") or operation.get("parameters"):
                    responses.setdefault("422", _error("A field is invalid; `loc` names it", "ValidationErrorOut"))
                responses.setdefault(
                    "503", _error("The database cannot take writes now; retry after Retry-After", "ErrorOut")
                )
        return schema

    def _get_urls(self) -> Any:
        patterns = super()._get_urls()
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = logged_api_view(pattern.callback)
        return patterns


api = StatusdashAPI(
    title="statusdash",
    version="1.0.0",
    description="Infrastructure status hub: agents report metrics; dashboards and tools read them.",
    parser=StrictJSONParser(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(IdentityRefused)
def identity_refused(request: HttpRequest, exc: IdentityRefused) -> HttpResponse:
    return api.create_response(request, {"detail": exc.reason}, status=exc.status)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """422 with one entry per field. django-ninja may put a parameter's name after its place in
    `loc` (["body", "body", "note"] for a parameter named body); clients want the field: ["body", "note"]."""
    errors = []
    for error in exc.errors:
        loc = list(error.get("loc", []))
        errors.append({**error, "loc": loc[:1] + loc[2:]} if len(loc) > 2 and loc[0] == loc[1] else error)
    return api.create_response(request, {"detail": errors}, status=422)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # django-ninja turns any parser error into "400 Cannot parse request body"; the parser's
    # own error (413 too large, 415 gzip without credentials, 400 with the reason, 422 naming
    # a field) is the cause, and the client deserves it.
    if isinstance(exc.__cause__, ValidationError):
        return api.on_exception(request, exc.__cause__)
    shown = exc.__cause__ if isinstance(exc.__cause__, HttpError) else exc
    return api.create_response(request, {"detail": shown.message}, status=shown.status_code)


@api.exception_handler(AuthenticationError)
def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": "authentication required: a dashboard session, a read API key or a bearer token"},
        status=401,
    )


# Seconds an agent should wait before resending after a storage failure; its spool keeps the reports.
STORAGE_RETRY_AFTER_SECONDS = 30
log = logging.getLogger("statusdash.api")


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def storage_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """503 with a reason when the database cannot take writes (disk full, read-only, gone).

    Agents keep what they collected and retry, so a full disk costs no data; a 500 would
    read as a bug in the hub. Errors from bad data (IntegrityError and the like) are not
    caught here: retrying them would never help.
    """
    reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    log.warning("storage unavailable", extra={"path": request.path, "error": reason})
    response = api.create_response(
        request, {"detail": f"the hub cannot store data right now ({reason}); retry later"}, status=503
    )
    response["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
    return response


class TokenIn(Schema):
    username: str
    password: str
    otp: str | None = Field(
        None,
        max_length=64,
        description="A current two-factor code (or a recovery code): needed once the user has enrolled.",
    )


class TokenOut(Schema):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type, not a secret)
    expires_in: int


@api.post(
    "/auth/token", response={200: TokenOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut}, tags=["auth"], auth=None
)
def create_token(request: HttpRequest, credentials: TokenIn) -> Status:
    """Exchange a dashboard username and password (and `otp`, for a user with two-factor log-in)
    for a short-lived bearer token.

    Throttled like the log-in form: after LOGIN_MAX_FAILURES wrong passwords or codes, 429 for a while.
    """
    if not settings.PASSWORD_LOGIN:
        raise HttpError(403, "password log-in is off on this hub (PASSWORD_LOGIN=false): sign in with SSO")
    throttle = LoginThrottle(credentials.username, originating_address(request))
    if throttle.is_locked():
        raise HttpError(
            429, f"too many failed log-ins; try again in {max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)} minutes"
        )
    user = authenticate(request, username=credentials.username, password=credentials.password)
    if user is None or not user.is_active:
        throttle.record_failure()
        raise HttpError(401, "wrong username or password")
    if two_factor.is_enrolled(user):
        if not credentials.otp:
            # Not a failure: the password was right, the client did not know a code was needed.
            raise HttpError(401, "otp: this user has two-factor log-in; send the current code in the field otp")
        if two_factor.verify(user, credentials.otp) is None:
            throttle.record_failure()
            raise HttpError(401, "otp: wrong or already used two-factor code")
    elif two_factor.must_enroll(user):
        raise HttpError(403, "set up two-factor log-in on the dashboard first (/account/two-factor/): REQUIRE_2FA")
    throttle.clear()
    token, lifetime = issue_token(user)
    # A failed one is recorded by authenticate()'s user_login_failed signal, like the form's.
    audit_trail.record(user, AuditAction.LOGIN, user, request=request)
    return Status(200, {"access_token": token, "expires_in": lifetime})


api.add_router("/metrics", metrics_router)
api.add_router("/hosts", hosts_router)
api.add_router("/events", events_router)
api.add_router("/enroll", enroll_router)
api.add_router("/agent", renew_router)
api.add_router("/agent", agent_checks_router)
api.add_router("/checks", checks_router)
api.add_router("/config", config_router)
api.add_router("/tokens", tokens_router)
api.add_router("/alerts", alerts_router)
api.add_router("/silences", silences_router)
api.add_router("/rules", rules_router)
api.add_router("/channels", channels_router)
api.add_router("/services", services_router)
api.add_router("/alertmanager/api/v2", alertmanager_router)
