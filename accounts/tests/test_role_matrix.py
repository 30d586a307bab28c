"""The role matrix: each role (none, viewer, operator, admin) by each page, action, admin page and
action, API route and socket, allowed or refused as accounts/rights.py says.

The routes are found by walking the URL resolver, the ninja API's operations, the admin site's
registry and the WebSocket routes: a new one missing from these tables fails
`test_every_*_is_in_the_matrix`, so it cannot ship without a decision about who may use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone

from accounts.rights import (
    ACKNOWLEDGE,
    ADD_HOST,
    CREATE_AGENT_KEY,
    CREATE_ENROLLMENT_TOKEN,
    DELETE,
    EDIT_ALERT_RULES,
    EDIT_CHANNELS,
    EDIT_CHECKS,
    EDIT_SETTINGS,
    MANAGE_CERTIFICATES,
    MANAGE_USERS,
    SEND_TEST_NOTIFICATION,
    SILENCE,
    USE_ADMIN_SITE,
    VIEW,
    may,
    role_needed,
)
from accounts.roles import ADMIN, ROLES
from alerts.models import Alert, AlertRule, NotificationChannel, Silence
from checks.models import Check
from hosts.auth import issue_token
from hosts.models import ApiKey, ApiKeyScope, Host
from services.models import ServiceHealth, ServiceOverride, ServiceStatus
from statusdash.api import api
from statusdash.routing import websocket_urlpatterns
from statusdash.tests.support import user_with_role

pytestmark = pytest.mark.django_db
EVERY_ROLE = [None, *ROLES]
ROLE_IDS = ["none", *ROLES]
# Not for people with a role: each has its own way in, tested where it is built.
OWN_AUTH = {
    "health": "open: a load balancer's probe",
    "metrics": "a read API key or METRICS_ALLOWED_IPS (metrics/tests)",
    "admin/login/": "the log-in form",
    "login/": "the log-in form",
    "logout/": "anyone logged in",
    "password/set/<uidb64>/<token>/": "the one-time link of `manage.py users add` (accounts/tests/test_users_command.py)",
    "password/set/done/": "after the one-time link",
    "status/": "the public status page",
    "status/badge.json": "the public status page",
    "status/summary.json": "the public status page",
    "agent/install.sh": "public: what an enrolling host downloads",
    "agent/statusdash-agent-<str:version>.tar.gz": "public: what an enrolling host downloads",
    "agent/SHA256SUMS": "public: what an enrolling host downloads",
    "^api/(?P<rest>.*)$": "a JSON 404 for any /api/ path no route takes",
    "account/tokens/": "a person's own tokens, within their role (dashboard/tests/test_token_views.py)",
    "account/tokens/<int:pk>/revoke/": "a person's own tokens (dashboard/tests/test_token_views.py)",
    "account/two-factor/": "a person's own second factor (accounts/tests/test_views.py)",
    "login/code/": "the log-in form's second step",
    "login/sso-refused/": "the single sign-on's refusal page",
    "oidc/authenticate/": "single sign-on (accounts/tests/test_oidc.py)",
    "oidc/callback/": "single sign-on (accounts/tests/test_oidc.py)",
    "oidc/logout/": "anyone logged in",
}
CHECK_FORM = {
    "name": "ping-new",
    "kind": "http",
    "target": "https://example.test/",
    "interval": "60",
    "timeout": "10",
    "retries": "1",
    "runs_on": "hub",
    "tags": "",
    "options": "",
    "enabled": "on",
}


@dataclass(frozen=True)
class Call:
    method: str
    url: str  # formatted with the world's ids
    action: str  # the right it needs (accounts.rights)
    data: dict[str, Any] | None = None


# Dashboard pages and form posts, by the resolver's route.
PAGES: dict[str, list[Call]] = {
    "": [Call("GET", "/", VIEW)],
    "add-host/": [
        Call("GET", "/add-host/", ADD_HOST),
        Call("POST", "/add-host/", ADD_HOST, {"name": "new-1", "tags": "", "hours": "2"}),
    ],
    "add-host/<str:name>/status/": [Call("GET", "/add-host/web-1/status/", ADD_HOST)],
    "hosts/<str:name>/": [Call("GET", "/hosts/web-1/", VIEW)],
    "hosts/<str:name>/history/": [Call("GET", "/hosts/web-1/history/", VIEW)],
    "checks/": [Call("GET", "/checks/", VIEW)],
    "add-check/": [Call("GET", "/add-check/", EDIT_CHECKS), Call("POST", "/add-check/", EDIT_CHECKS, CHECK_FORM)],
    "checks/<str:name>/": [Call("GET", "/checks/ping-web/", VIEW)],
    "checks/<str:name>/edit/": [
        Call("GET", "/checks/ping-web/edit/", EDIT_CHECKS),
        Call("POST", "/checks/ping-web/edit/", EDIT_CHECKS, {**CHECK_FORM, "name": "ping-web"}),
    ],
    "wall/": [Call("GET", "/wall/", VIEW)],
    "alerts/": [Call("GET", "/alerts/", VIEW)],
    "alerts/<int:pk>/acknowledge": [Call("POST", "/alerts/{alert}/acknowledge", ACKNOWLEDGE)],
    "alerts/<int:pk>/unacknowledge": [Call("POST", "/alerts/{acked}/unacknowledge", ACKNOWLEDGE)],
    "alerts/<int:pk>/silence": [Call("POST", "/alerts/{alert}/silence", SILENCE, {"duration": "1h"})],
    "alerts/silences/<int:pk>/end": [Call("POST", "/alerts/silences/{silence}/end", SILENCE)],
}
# The API's operations for people, by (method, path); the others have their own credentials.
API: dict[tuple[str, str], Call] = {
    ("GET", "/hosts"): Call("GET", "/api/hosts", VIEW),
    ("GET", "/hosts/sentiment/overall"): Call("GET", "/api/hosts/sentiment/overall", VIEW),
    ("GET", "/hosts/{ident}"): Call("GET", "/api/hosts/web-1", VIEW),
    ("GET", "/checks"): Call("GET", "/api/checks", VIEW),
    ("GET", "/checks/{ref}"): Call("GET", "/api/checks/ping-web", VIEW),
    ("GET", "/checks/{ref}/results"): Call("GET", "/api/checks/ping-web/results", VIEW),
    ("POST", "/checks"): Call(
        "POST", "/api/checks", EDIT_CHECKS, {"name": "site", "kind": "http", "target": "https://example.test/"}
    ),
    ("PATCH", "/checks/{ref}"): Call("PATCH", "/api/checks/ping-web", EDIT_CHECKS, {"interval": 120}),
    ("DELETE", "/checks/{ref}"): Call("DELETE", "/api/checks/ping-web", DELETE),
    ("GET", "/alerts"): Call("GET", "/api/alerts", VIEW),
    ("GET", "/alerts/{alert_id}"): Call("GET", "/api/alerts/{alert}", VIEW),
    ("POST", "/alerts/{alert_id}/ack"): Call("POST", "/api/alerts/{alert}/ack", ACKNOWLEDGE, {"note": "on it"}),
    ("DELETE", "/alerts/{alert_id}/ack"): Call("DELETE", "/api/alerts/{acked}/ack", ACKNOWLEDGE),
    ("GET", "/silences"): Call("GET", "/api/silences", VIEW),
    ("GET", "/silences/{silence_id}"): Call("GET", "/api/silences/{silence}", VIEW),
    ("POST", "/silences"): Call(
        "POST", "/api/silences", SILENCE, {"host": "web-1", "duration_seconds": 1800, "reason": "deploy"}
    ),
    ("PATCH", "/silences/{silence_id}"): Call("PATCH", "/api/silences/{silence}", SILENCE, {"reason": "longer"}),
    ("POST", "/silences/{silence_id}/expire"): Call("POST", "/api/silences/{silence}/expire", SILENCE),
    ("GET", "/rules"): Call("GET", "/api/rules", VIEW),
    ("GET", "/rules/{rule_id}"): Call("GET", "/api/rules/{rule}", VIEW),
    ("POST", "/rules"): Call(
        "POST", "/api/rules", EDIT_ALERT_RULES, {"name": "disk-low", "metric": "disk", "warning_level": 85}
    ),
    ("PATCH", "/rules/{rule_id}"): Call("PATCH", "/api/rules/{rule}", EDIT_ALERT_RULES, {"warning_level": 70}),
    ("DELETE", "/rules/{rule_id}"): Call("DELETE", "/api/rules/{rule}", DELETE),
    ("GET", "/channels"): Call("GET", "/api/channels", VIEW),
    ("GET", "/channels/{channel_id}"): Call("GET", "/api/channels/{channel}", VIEW),
    ("POST", "/channels"): Call("POST", "/api/channels", EDIT_CHANNELS, {"name": "ops", "url": "json://127.0.0.1:9/"}),
    ("PATCH", "/channels/{channel_id}"): Call(
        "PATCH", "/api/channels/{channel}", EDIT_CHANNELS, {"min_severity": "critical"}
    ),
    ("DELETE", "/channels/{channel_id}"): Call("DELETE", "/api/channels/{channel}", DELETE),
    ("POST", "/channels/{channel_id}/test"): Call("POST", "/api/channels/{channel}/test", SEND_TEST_NOTIFICATION),
    ("POST", "/hosts"): Call("POST", "/api/hosts", ADD_HOST, {"name": "new-1", "tags": ["prod"]}),
    ("PATCH", "/hosts/{ident}"): Call("PATCH", "/api/hosts/web-1", ADD_HOST, {"tags": ["prod", "eu"]}),
    ("DELETE", "/hosts/{ident}"): Call("DELETE", "/api/hosts/web-1", DELETE),
    ("GET", "/hosts/{ident}/keys"): Call("GET", "/api/hosts/web-1/keys", VIEW),
    ("POST", "/hosts/{ident}/keys"): Call("POST", "/api/hosts/web-1/keys", CREATE_AGENT_KEY, {}),
    ("DELETE", "/hosts/{ident}/keys/{key_id}"): Call("DELETE", "/api/hosts/web-1/keys/{key}", MANAGE_CERTIFICATES),
    ("POST", "/hosts/{ident}/enrollment-tokens"): Call(
        "POST", "/api/hosts/web-1/enrollment-tokens", CREATE_ENROLLMENT_TOKEN, {}
    ),
    ("GET", "/services"): Call("GET", "/api/services", VIEW),
    ("GET", "/services/{name}"): Call("GET", "/api/services/api", VIEW),
    ("PUT", "/services/{name}/override"): Call(
        "PUT", "/api/services/billing/override", EDIT_SETTINGS, {"status": "healthy", "reason": "probe broken"}
    ),
    ("DELETE", "/services/{name}/override"): Call("DELETE", "/api/services/api/override", EDIT_SETTINGS),
    ("POST", "/config/apply"): Call("POST", "/api/config/apply?dry_run=true", EDIT_SETTINGS, {"hosts": []}),
    ("GET", "/alertmanager/api/v2/alerts"): Call("GET", "/api/alertmanager/api/v2/alerts", VIEW),
    ("GET", "/alertmanager/api/v2/alerts/groups"): Call("GET", "/api/alertmanager/api/v2/alerts/groups", VIEW),
    ("GET", "/alertmanager/api/v2/silences"): Call("GET", "/api/alertmanager/api/v2/silences", VIEW),
    ("GET", "/alertmanager/api/v2/receivers"): Call("GET", "/api/alertmanager/api/v2/receivers", VIEW),
    ("GET", "/alertmanager/api/v2/status"): Call("GET", "/api/alertmanager/api/v2/status", VIEW),
}
API_OWN_AUTH = {
    ("POST", "/auth/token"): "a password (hosts/tests/test_auth_token.py)",
    ("POST", "/metrics/report"): "an agent's key or certificate",
    ("POST", "/metrics/validate"): "open: validates a report's shape",
    ("POST", "/events"): "a service key",
    ("POST", "/enroll"): "an enrollment token",
    ("POST", "/agent/renew"): "an agent's certificate",
    ("GET", "/agent/checks"): "an agent's key or certificate",
    ("GET", "/config/schema.json"): "open: editors fetch the file's schema",
    ("GET", "/tokens"): "a person's own tokens (hosts/tests/test_token_api.py)",
    ("POST", "/tokens"): "a person's own tokens, within their role (hosts/tests/test_token_api.py)",
    ("DELETE", "/tokens/{token_id}"): "a person's own tokens (hosts/tests/test_token_api.py)",
}
# The admin site: the right to see each model's pages (operators see what they act on).
ADMIN_MODELS: dict[str, str] = {
    "alerts.AlertRule": DELETE,  # admin-only, like every model not given to an operator
    "alerts.Alert": ACKNOWLEDGE,
    "alerts.Silence": SILENCE,
    "alerts.NotificationChannel": SEND_TEST_NOTIFICATION,
    "alerts.Notification": SEND_TEST_NOTIFICATION,
    "alerts.AuditEntry": MANAGE_USERS,
    "audit.AuditEvent": MANAGE_USERS,
    "accounts.SsoIdentity": MANAGE_USERS,
    "auth.Group": MANAGE_USERS,
    "auth.User": MANAGE_USERS,
    "checks.Check": EDIT_CHECKS,
    "checks.CheckFlip": EDIT_CHECKS,
    "hosts.Host": ADD_HOST,
    "hosts.ApiKey": CREATE_AGENT_KEY,
    "hosts.EnrollmentToken": CREATE_ENROLLMENT_TOKEN,
    "hosts.Certificate": MANAGE_CERTIFICATES,
    "metrics.MetricSample": VIEW,
    "services.ServiceHealth": VIEW,
    "services.ServiceEvent": VIEW,
    "services.PublicHost": DELETE,
    "services.DailyAvailability": VIEW,
}
# Admin actions by (model, action name); any model's "delete_selected" is DELETE.
ADMIN_ACTIONS: dict[tuple[str, str], str] = {
    ("hosts.Host", "create_agent_key"): CREATE_AGENT_KEY,
    ("hosts.Host", "make_enrollment_token"): CREATE_ENROLLMENT_TOKEN,
    ("hosts.Host", "update_agent"): MANAGE_CERTIFICATES,  # changes a host: an admin's
    ("hosts.Host", "stop_updating_agent"): MANAGE_CERTIFICATES,
    ("hosts.ApiKey", "revoke"): MANAGE_CERTIFICATES,
    ("hosts.Certificate", "revoke"): MANAGE_CERTIFICATES,
    ("alerts.Alert", "acknowledge"): ACKNOWLEDGE,
    ("alerts.Silence", "end_now"): SILENCE,
    ("alerts.NotificationChannel", "send_test"): SEND_TEST_NOTIFICATION,
    ("auth.User", "reset_two_factor"): MANAGE_USERS,
}
# Who may add through the admin site (None: nobody, the model is not typed in).
ADMIN_ADD: dict[str, str | None] = {
    "alerts.Silence": SILENCE,
    "checks.Check": EDIT_CHECKS,
    "hosts.Host": ADD_HOST,
    "hosts.ApiKey": CREATE_AGENT_KEY,
    "alerts.Alert": None,
    "alerts.Notification": None,
    "alerts.AuditEntry": None,
    "audit.AuditEvent": None,
    "accounts.SsoIdentity": None,
    "checks.CheckFlip": None,
    "hosts.Certificate": None,
    "hosts.EnrollmentToken": None,
    "services.ServiceEvent": None,
    "services.DailyAvailability": None,
}
# Nobody deletes from these, admins included: the audit trail is only pruned by its retention.
ADMIN_READ_ONLY = {"audit.AuditEvent"}
SOCKETS: dict[str, str] = {
    "ws/dashboard/": "/ws/dashboard/",
    "ws/hosts/<str:name>/": "/ws/hosts/web-1/",
    "ws/checks/": "/ws/checks/",
    "ws/checks/<str:name>/": "/ws/checks/ping-web/",
    "ws/alerts/": "/ws/alerts/",
    "ws/wall/": "/ws/wall/",
}
# Controls a page shows only to those who may use them: (page, what the control looks like, right).
CONTROLS = [
    ("/", 'href="/add-host/"', ADD_HOST),
    ("/", 'href="/admin/"', USE_ADMIN_SITE),
    ("/alerts/", 'action="/alerts/{alert}/acknowledge"', ACKNOWLEDGE),
    ("/alerts/", 'action="/alerts/{alert}/silence"', SILENCE),
    ("/alerts/", 'action="/alerts/{acked}/unacknowledge"', ACKNOWLEDGE),
    ("/alerts/", 'action="/alerts/silences/{silence}/end"', SILENCE),
    ("/hosts/web-1/", 'action="/alerts/{alert}/acknowledge"', ACKNOWLEDGE),
    ("/hosts/web-1/", 'action="/alerts/{alert}/silence"', SILENCE),
    ("/checks/", 'href="/add-check/"', EDIT_CHECKS),
    ("/checks/ping-web/", 'href="/checks/ping-web/edit/"', EDIT_CHECKS),
]


def walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route not in ("api/", "admin/"):  # their own sections below
                yield from walk(pattern.url_patterns, route)
        else:
            yield route


def api_operations() -> Iterator[tuple[str, str]]:
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    yield method, prefix + path


def role_at_least(role: str | None, action: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(role_needed(action))


@pytest.fixture
def world(db: Any) -> dict[str, int]:
    """A host with a firing alert, another acknowledged and silenced, a check."""
    web = Host.objects.create(name="web-1", tags=["prod"])
    db_host = Host.objects.create(name="db-1")
    alert = Alert.objects.fire("disk", host=web, subject="/", severity="warning", message="disk / at 93%")
    acked = Alert.objects.fire("cpu", host=db_host, subject="cpu", severity="critical", message="cpu at 99%")
    boss = user_with_role("boss", ADMIN)
    acked.acknowledge(boss)
    now = timezone.now()
    silence = Silence.objects.cover(
        acked, starts_at=now, ends_at=now + timedelta(hours=1), reason="db", created_by=boss
    )
    check = Check(name="ping-web", kind="http", target="https://example.test/")
    check.full_clean()
    check.save()
    rule = AlertRule.objects.create(name="cpu-busy", metric="cpu", warning_level=80)
    channel = NotificationChannel.objects.create(name="pager", url="json://127.0.0.1:9/")
    key, _ = ApiKey.issue(ApiKeyScope.AGENT, host=web)
    ServiceHealth.objects.create(name="billing", status=ServiceStatus.UNHEALTHY)
    api = ServiceHealth.objects.create(name="api", status=ServiceStatus.UNHEALTHY)
    ServiceOverride.objects.create(service=api, status=ServiceStatus.HEALTHY, reason="probe broken", set_by_name="boss")
    return {
        "alert": alert.pk,
        "acked": acked.pk,
        "silence": silence.pk,
        "check": check.pk,
        "rule": rule.pk,
        "channel": channel.pk,
        "key": key.pk,
    }


def client_as(role: str | None) -> tuple[Client, User]:
    user = user_with_role(f"user-{role or 'none'}", role)
    client = Client()
    client.force_login(user)
    return client, user


def send(client: Client, call: Call, world: dict[str, int], **extra: Any) -> Any:
    url = call.url.format(**world)
    if call.method == "GET":
        return client.get(url, **extra)
    if url.startswith("/api/"):
        return client.generic(call.method, url, json_body(call.data), content_type="application/json", **extra)
    return client.post(url, call.data or {}, **extra)


def json_body(data: dict[str, Any] | None) -> str:
    return json.dumps(data or {})


def refused(response: Any) -> bool:
    login = response.status_code == 302 and response.headers["Location"].startswith(("/login/", "/admin/login/"))
    return response.status_code in (401, 403) or login


def test_every_page_and_form_is_in_the_matrix() -> None:
    routes = set(walk(get_resolver().url_patterns))
    assert routes - set(PAGES) - set(OWN_AUTH) == set(), "a new route: decide who may use it (PAGES or OWN_AUTH)"
    assert set(PAGES) | set(OWN_AUTH) <= routes  # and nothing stale in the tables


def test_every_api_route_is_in_the_matrix() -> None:
    operations = set(api_operations())
    assert operations - set(API) - set(API_OWN_AUTH) == set(), "a new API route: decide who may use it"
    assert set(API) | set(API_OWN_AUTH) <= operations


def test_every_admin_model_and_action_is_in_the_matrix() -> None:
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("root", password="pw-root-123456")
    models = {model._meta.label: model_admin for model, model_admin in admin.site._registry.items()}
    assert set(models) == set(ADMIN_MODELS)
    actions = {(label, name) for label, model_admin in models.items() for name in model_admin.get_actions(request)}
    assert {pair for pair in actions if pair[1] != "delete_selected"} == set(ADMIN_ACTIONS)


def test_every_socket_is_in_the_matrix() -> None:
    assert {str(route.pattern) for route in websocket_urlpatterns} == set(SOCKETS)


PAGE_CALLS = [(route, call) for route, calls in PAGES.items() for call in calls]


@pytest.mark.parametrize("role", EVERY_ROLE, ids=ROLE_IDS)
@pytest.mark.parametrize(("route", "call"), PAGE_CALLS, ids=[f"{c.method} {r or '/'}" for r, c in PAGE_CALLS])
def test_pages_and_forms(
    route: str, call: Call, role: str | None, world: dict[str, int], request: pytest.FixtureRequest
) -> None:
    if call.action == ADD_HOST:
        request.getfixturevalue("ca")  # adding a host needs the CA (a key made per test: only here)
    client, _ = client_as(role)
    response = send(client, call, world)
    if role_at_least(role, call.action):
        assert not refused(response), f"{role} refused: {response.status_code}"
        assert response.status_code < 500
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", EVERY_ROLE, ids=ROLE_IDS)
@pytest.mark.parametrize("key", list(API), ids=[f"{m} {p}" for m, p in API])
@pytest.mark.parametrize("credential", ["session", "jwt"])
def test_api_routes(key: tuple[str, str], role: str | None, credential: str, world: dict[str, int]) -> None:
    call = API[key]
    client, user = client_as(role)
    extra = {}
    if credential == "jwt":
        client = Client()
        extra = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(user)[0]}"}
    response = send(client, call, world, **extra)
    if role_at_least(role, call.action):
        assert response.status_code in (200, 201, 204), response.content
    else:
        assert response.status_code == 403, response.content
        assert "detail" in response.json()


@pytest.mark.parametrize("role", EVERY_ROLE, ids=ROLE_IDS)
@pytest.mark.parametrize("label", sorted(ADMIN_MODELS))
def test_admin_pages(label: str, role: str | None, world: dict[str, int]) -> None:
    app_label, model_name = label.lower().split(".")
    client, _ = client_as(role)
    changelist = client.get(f"/admin/{app_label}/{model_name}/")
    if not role_at_least(role, USE_ADMIN_SITE):
        assert changelist.status_code == 302 and changelist.headers["Location"].startswith("/admin/login/")
        return
    assert changelist.status_code == (200 if role_at_least(role, ADMIN_MODELS[label]) else 403)
    add_right = ADMIN_ADD.get(label, DELETE)
    add_page = client.get(f"/admin/{app_label}/{model_name}/add/")
    may_add = add_right is not None and role_at_least(role, add_right)
    assert add_page.status_code == (200 if may_add else 403)


@pytest.mark.parametrize("role", EVERY_ROLE, ids=ROLE_IDS)
@pytest.mark.parametrize("label", sorted(ADMIN_MODELS))
def test_admin_actions_and_deleting(label: str, role: str | None) -> None:
    _, user = client_as(role)
    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(pk=user.pk)
    model_admin = next(ma for model, ma in admin.site._registry.items() if model._meta.label == label)
    offered = set(model_admin.get_actions(request))
    expected = {
        name
        for (model, name), action in ADMIN_ACTIONS.items()
        if model == label and role_at_least(role, action) and role_at_least(role, USE_ADMIN_SITE)
    }
    may_delete = role_at_least(role, DELETE) and label not in ADMIN_READ_ONLY
    if may_delete:
        expected.add("delete_selected")
    assert offered == expected
    assert model_admin.has_delete_permission(request) == may_delete


@pytest.mark.asyncio
@pytest.mark.parametrize("route", list(SOCKETS))
async def test_sockets(route: str, transactional_db: Any) -> None:
    # The roles in one test: each transactional test rebuilds the database, which is slow.
    await database_sync_to_async(Host.objects.create)(name="web-1")
    check = Check(name="ping-web", kind="http", target="https://example.test/")
    await database_sync_to_async(check.save)()
    for role in EVERY_ROLE:
        user = await database_sync_to_async(user_with_role)(f"user-{role or 'none'}", role)
        communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), SOCKETS[route])
        communicator.scope["user"] = user
        connected, code = await communicator.connect()
        if role_at_least(role, VIEW):
            assert connected, role
        else:
            assert (connected, code) == (False, 4403)
        await communicator.disconnect()


@pytest.mark.parametrize("role", EVERY_ROLE, ids=ROLE_IDS)
@pytest.mark.parametrize(("page", "control", "action"), CONTROLS)
def test_a_page_shows_a_control_only_to_who_may_use_it(
    page: str, control: str, action: str, role: str | None, world: dict[str, int]
) -> None:
    if role is None:
        return  # refused the page itself (test_pages_and_forms)
    client, _ = client_as(role)
    html = client.get(page).content.decode()
    assert (control.format(**world) in html) == role_at_least(role, action)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "page", sorted({call.url for calls in PAGES.values() for call in calls if call.method == "GET"})
)
def test_no_link_or_form_on_a_page_ends_in_403(page: str, role: str, world: dict[str, int]) -> None:
    client, user = client_as(role)
    response = client.get(page.format(**world))
    if refused(response):
        return
    html = response.content.decode()
    targets = [("GET", href) for href in re.findall(r'href="(/[^"#?]*)', html)]
    targets += [("POST", action) for action in re.findall(r'<form method="post" action="(/[^"?]*)"', html)]
    for method, target in targets:
        if target.startswith(("/static/", "/admin/", "/api/")):
            continue
        route = next((r for r in PAGES if resolve(target).route == r), None)
        if route is None:
            continue  # a page of OWN_AUTH (log out, the status page)
        call = next((c for c in PAGES[route] if c.method == method), None)
        assert call is not None, f"{page} offers {method} {target}, which that route does not take"
        assert may(user, call.action), f"{page} offers {role} {method} {target}, which needs {call.action}"
