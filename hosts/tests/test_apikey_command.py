"""python manage.py apikey … and ensure_admin."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import override_settings

from hosts.models import ApiKey, ApiKeyScope, Host


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_create_agent_key_creates_the_host_and_prints_the_key_last() -> None:
    out, err = run("apikey", "create", "--host", "db-1")
    raw = out.strip().splitlines()[-1]
    key = ApiKey.objects.find(raw)
    assert key is not None and key.scope == ApiKeyScope.AGENT
    assert key.host == Host.objects.get(name="db-1")
    assert "shown once" in err
    assert raw not in str(list(ApiKey.objects.values_list("hashed", "prefix")))  # only the hash is stored


@pytest.mark.django_db
def test_create_read_key() -> None:
    out, _ = run("apikey", "create", "--read", "grafana")
    key = ApiKey.objects.find(out.strip().splitlines()[-1])
    assert key is not None and key.scope == ApiKeyScope.READ and key.label == "grafana" and key.host is None


@pytest.mark.django_db
def test_create_service_key() -> None:
    out, _ = run("apikey", "create", "--service", "billing")
    key = ApiKey.objects.find(out.strip().splitlines()[-1])
    assert key is not None and key.scope == ApiKeyScope.SERVICE and key.service == "billing"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Web_1", "-web", "a" * 64, "web 1", "<b>"])
def test_invalid_host_name_is_a_clear_error(name: str) -> None:
    with pytest.raises(CommandError, match="invalid host name"):
        run("apikey", "create", f"--host={name}")
    assert not Host.objects.exists()


@pytest.mark.django_db
def test_list_shows_prefixes_not_secrets() -> None:
    out, _ = run("apikey", "create", "--host", "db-1")
    raw = out.strip().splitlines()[-1]
    listing, _ = run("apikey", "list")
    assert raw[:11] in listing
    assert raw not in listing
    assert "db-1" in listing


@pytest.mark.django_db
def test_revoke_by_prefix() -> None:
    out, _ = run("apikey", "create", "--host", "db-1")
    raw = out.strip().splitlines()[-1]
    run("apikey", "revoke", raw[:11])
    assert ApiKey.objects.find(raw).is_revoked  # type: ignore[union-attr]


@pytest.mark.django_db
@pytest.mark.parametrize("prefix", ["sd_", "sd_nothing-like-this"])
def test_revoke_unknown_or_too_short_prefix_is_an_error(prefix: str) -> None:
    run("apikey", "create", "--host", "db-1")
    with pytest.raises(CommandError, match="no key starts with"):
        run("apikey", "revoke", prefix)


@pytest.mark.django_db
def test_ensure_admin_creates_the_admin_from_the_environment() -> None:
    with override_settings(STATUS_ADMIN_PASSWORD="first-password"):
        out, _ = run("ensure_admin")
    assert "Created" in out
    admin = User.objects.get(username="admin")
    assert admin.check_password("first-password") and admin.is_superuser and admin.is_active


@pytest.mark.django_db
def test_ensure_admin_keeps_a_password_changed_since(db: Any) -> None:
    with override_settings(STATUS_ADMIN_PASSWORD="first-password"):
        run("ensure_admin")
        admin = User.objects.get(username="admin")
        admin.set_password("changed-in-the-dashboard")
        admin.save()
        out, _ = run("ensure_admin")  # the next start, same .env
    assert "left as it is" in out
    assert User.objects.get(username="admin").check_password("changed-in-the-dashboard")


@pytest.mark.django_db
def test_ensure_admin_does_not_reactivate_a_deactivated_admin(db: Any) -> None:
    with override_settings(STATUS_ADMIN_PASSWORD="first-password"):
        run("ensure_admin")
        admin = User.objects.get(username="admin")
        admin.set_password("locked-away-by-the-team")  # retired: deactivated and its password scrambled
        admin.is_active = False
        admin.save()
        run("ensure_admin")
    assert not User.objects.get(username="admin").is_active


@pytest.mark.django_db
@override_settings(STATUS_ADMIN_PASSWORD="")
def test_ensure_admin_generates_a_password_once_in_embedded_mode() -> None:
    out, _ = run("ensure_admin", "--generate-if-unset")
    password = out.split("generated password: ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    again, _ = run("ensure_admin", "--generate-if-unset")
    assert password not in again


@pytest.mark.django_db
@override_settings(STATUS_ADMIN_PASSWORD="")
def test_ensure_admin_without_password_outside_embedded_mode_is_an_error() -> None:
    with pytest.raises(CommandError, match="STATUS_ADMIN_PASSWORD is not set"):
        run("ensure_admin")


@pytest.mark.django_db
@override_settings(STATUS_ADMIN_PASSWORD="short")
def test_ensure_admin_refuses_a_short_password(db: Any) -> None:
    with pytest.raises(CommandError, match="at least 8"):
        run("ensure_admin")
