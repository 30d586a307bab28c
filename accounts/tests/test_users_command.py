"""`manage.py users`: add with a role and a one-time link, list, change a role, disable, enable."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from accounts.roles import ADMIN, OPERATOR, VIEWER, role_of
from hosts.auth import issue_token
from hosts.models import TokenVersion
from statusdash.tests.support import user_with_role

pytestmark = pytest.mark.django_db
User = get_user_model()


def users(*args: str) -> str:
    out = StringIO()
    call_command("users", *args, stdout=out)
    return out.getvalue()


def link_in(output: str) -> str:
    match = re.search(r"http://\S+/password/set/\S+/", output)
    assert match, output
    return match.group(0)


def test_add_creates_a_user_with_the_role_and_no_usable_password() -> None:
    output = users("add", "sam", "--role", "operator", "--email", "sam@example.test")
    user = User.objects.get(username="sam")
    assert role_of(user) == OPERATOR and user.email == "sam@example.test"
    assert not user.has_usable_password()
    assert "Added sam as operator." in output


def test_the_link_is_on_the_public_url_and_sets_the_password_once(settings: Any) -> None:
    settings.PUBLIC_URL = "http://127.0.0.1:9999"
    link = link_in(users("add", "sam", "--role", "viewer"))
    assert link.startswith("http://127.0.0.1:9999/password/set/")
    path = link.removeprefix("http://127.0.0.1:9999")
    browser = Client()
    form_page = browser.get(path, follow=True)
    assert b"Set your password" in form_page.content
    posted = browser.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-fine-new-password", "new_password2": "a-fine-new-password"},
    )
    assert posted.status_code == 302 and posted.headers["Location"] == "/password/set/done/"
    assert Client().login(username="sam", password="a-fine-new-password")
    again = Client().get(path, follow=True)
    assert b"This link does not work" in again.content


def test_a_weak_password_on_the_set_password_page_is_refused_by_field() -> None:
    path = link_in(users("add", "sam", "--role", "viewer")).split("/", 3)[3]
    browser = Client()
    page = browser.get("/" + path, follow=True)
    response = browser.post(page.redirect_chain[-1][0], {"new_password1": "123", "new_password2": "123"})
    assert response.status_code == 200
    assert b'id="password1-errors"' in response.content or b'id="password2-errors"' in response.content
    assert not User.objects.get(username="sam").has_usable_password()


def test_add_with_a_generated_password_prints_it_once_and_it_works() -> None:
    output = users("add", "kim", "--role", "viewer", "--generate-password")
    password = re.search(r"Password \(shown once, not stored\): (\S+)", output).group(1)  # type: ignore[union-attr]
    assert Client().login(username="kim", password=password)
    assert password not in User.objects.get(username="kim").password


def test_a_duplicate_name_is_refused_whatever_its_case() -> None:
    users("add", "sam", "--role", "viewer")
    with pytest.raises(CommandError, match="a user named 'Sam' exists already"):
        users("add", "Sam", "--role", "admin")
    assert User.objects.filter(username__iexact="sam").count() == 1


def test_an_unknown_role_is_refused_and_nothing_is_created() -> None:
    with pytest.raises(CommandError, match="unknown role 'owner': one of viewer, operator, admin"):
        users("add", "sam", "--role", "owner")
    assert not User.objects.filter(username="sam").exists()


def test_a_bad_name_or_email_is_refused() -> None:
    with pytest.raises(CommandError, match="is not a user name"):
        users("add", "sam smith", "--role", "viewer")
    with pytest.raises(CommandError, match="is not an email address"):
        users("add", "sam", "--role", "viewer", "--email", "not-an-address")
    assert not User.objects.exists()


def test_list_shows_name_role_active_and_last_login() -> None:
    users("add", "sam", "--role", "operator")
    users("add", "kim", "--role", "viewer")
    Client().force_login(User.objects.get(username="kim"))
    users("disable", "sam")
    lines = users("list").splitlines()
    assert lines[0].split() == ["name", "role", "active", "last", "login"]
    kim = next(line for line in lines if line.startswith("kim"))
    sam = next(line for line in lines if line.startswith("sam"))
    assert kim.split()[1:3] == ["viewer", "yes"] and "UTC" in kim
    assert sam.split()[1:4] == ["-", "no", "never"]  # a disabled user has no role


def test_role_changes_the_role() -> None:
    users("add", "sam", "--role", "viewer")
    assert "sam is now admin." in users("role", "sam", "admin")
    user = User.objects.get(username="sam")
    assert role_of(user) == ADMIN and user.is_staff


def test_role_of_an_unknown_user_or_to_an_unknown_role_is_refused() -> None:
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        users("role", "ghost", "viewer")
    users("add", "sam", "--role", "viewer")
    with pytest.raises(CommandError, match="unknown role 'root'"):
        users("role", "sam", "root")
    assert role_of(User.objects.get(username="sam")) == VIEWER


def test_disable_ends_sessions_and_tokens_at_once(django_capture_on_commit_callbacks: Any) -> None:
    users("add", "sam", "--role", "operator")
    user = User.objects.get(username="sam")
    browser = Client()
    browser.force_login(user)
    token, _ = issue_token(user)
    assert browser.get("/").status_code == 200
    assert Client().get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    with pytest.raises(CommandError, match="no user named"):
        users("disable", "ghost")
    with django_capture_on_commit_callbacks(execute=True):
        assert "Disabled sam" in users("disable", "sam")
    assert browser.get("/").status_code == 302  # back to the log-in page
    assert Client().get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert TokenVersion.of(user.pk) >= 1
    # Enabled again, the old token stays dead: it was ended, not paused.
    users("enable", "sam")
    assert Client().get("/api/hosts", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_the_last_active_admin_cannot_be_disabled_or_demoted() -> None:
    user_with_role("boss", ADMIN)
    with pytest.raises(CommandError, match="boss is the last active admin"):
        users("disable", "boss")
    with pytest.raises(CommandError, match="boss is the last active admin"):
        users("role", "boss", "viewer")
    users("add", "deputy", "--role", "admin")
    users("role", "boss", "viewer")
    assert role_of(User.objects.get(username="boss")) == VIEWER


def test_the_status_admin_password_admin_is_the_first_admin(settings: Any) -> None:
    settings.STATUS_ADMIN_PASSWORD = "first-admin-password"
    call_command("ensure_admin", stdout=StringIO())
    admin = User.objects.get(username="admin")
    assert role_of(admin) == ADMIN
    assert list(admin.groups.values_list("name", flat=True)) == [ADMIN]
