"""Roles tried as a new user would: an admin adds a viewer and an operator with `manage.py users
add`; each sets a password through the link, logs in through the form, and sees what the role
allows; the operator acknowledges an alert. And the live sockets of a real Daphne: a viewer's
never carries an action form, an operator's does."""

from __future__ import annotations

import json
import re
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from websockets.exceptions import InvalidStatus

from accounts.roles import OPERATOR, VIEWER
from alerts.models import Alert, AuditAction, AuditEntry
from hosts.models import ApiKey, ApiKeyScope, Host
from statusdash.tests.support import dashboard_socket, user_with_role

pytestmark = pytest.mark.django_db


def added_with_a_password(name: str, role: str, password: str) -> Client:
    """`users add`, the link followed, the password set, and a log-in through the form."""
    out = StringIO()
    call_command("users", "add", name, "--role", role, stdout=out)
    link = re.search(r"https?://[^/]+(/password/set/\S+/)", out.getvalue()).group(1)  # type: ignore[union-attr]
    browser = Client()
    form = browser.get(link, follow=True)
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    assert done.status_code == 302
    logged_in = browser.post("/login/", {"username": name, "password": password})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/"
    return browser


def test_an_admin_adds_a_viewer_and_an_operator_who_see_what_their_roles_allow(settings: Any) -> None:
    settings.STATUS_ADMIN_PASSWORD = "the-first-admin-pw"
    call_command("ensure_admin", stdout=StringIO())
    host = Host.objects.create(name="web-1")
    alert = Alert.objects.fire("disk", host=host, subject="/", severity="warning", message="disk / at 93%")
    viewer = added_with_a_password("vera", VIEWER, "vera-reads-only-42")
    operator = added_with_a_password("otto", OPERATOR, "otto-acts-on-it-42")
    acknowledge = f'action="/alerts/{alert.pk}/acknowledge"'

    seen = viewer.get("/").content.decode()
    assert "web-1" in seen and 'href="/add-host/"' not in seen and 'href="/admin/"' not in seen
    assert acknowledge not in viewer.get("/alerts/").content.decode()
    assert acknowledge not in viewer.get("/hosts/web-1/").content.decode()
    assert viewer.get("/admin/").status_code == 302  # to the admin's log-in: not for viewers
    assert viewer.post(f"/alerts/{alert.pk}/acknowledge").status_code == 403

    seen = operator.get("/").content.decode()
    assert 'href="/add-host/"' in seen and 'href="/admin/"' in seen
    alerts_page = operator.get("/alerts/").content.decode()
    assert acknowledge in alerts_page
    assert operator.get("/admin/").status_code == 200
    assert operator.get("/admin/auth/user/").status_code == 403  # users are an admin's
    assert operator.post(f"/alerts/{alert.pk}/acknowledge", {"next": "/alerts/"}).status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by is not None and alert.acknowledged_by.get_username() == "otto"
    assert AuditEntry.objects.filter(action=AuditAction.ACKNOWLEDGE, alert=alert, username="otto").exists()
    assert "Acknowledged by otto" in viewer.get("/alerts/").content.decode()


def session_of(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_a_viewers_live_socket_never_carries_an_action_form(live_hub: str, make_report: Any) -> None:
    host = Host.objects.create(name="web-1")
    # A rule no report evaluates: the report below must not resolve it.
    Alert.objects.fire("raid", host=host, subject="md0", severity="warning", message="md0 degraded")
    _, key = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    viewer, operator = user_with_role("vera", VIEWER), user_with_role("otto", OPERATOR)
    with pytest.raises(InvalidStatus):  # a user with no role gets no socket
        dashboard_socket(live_hub, session_of(user_with_role("nobody", None)), path="/ws/hosts/web-1/")
    with (
        dashboard_socket(live_hub, session_of(viewer), path="/ws/hosts/web-1/") as viewer_page,
        dashboard_socket(live_hub, session_of(operator), path="/ws/hosts/web-1/") as operator_page,
        dashboard_socket(live_hub, session_of(viewer)) as viewer_overview,
    ):
        response = requests.post(
            f"{live_hub}/api/metrics/report",
            data=json.dumps(make_report()),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 202
        to_viewer, to_operator = str(viewer_page.recv(timeout=15)), str(operator_page.recv(timeout=15))
        cards = [str(viewer_overview.recv(timeout=15)) for _ in range(2)]  # the card and the row
    assert 'id="host-alerts"' in to_viewer and "md0 degraded" in to_viewer
    assert "<form" not in to_viewer
    assert "/acknowledge" in to_operator and "<form" in to_operator
    assert all("<form" not in card and "web-1" in card for card in cards)
