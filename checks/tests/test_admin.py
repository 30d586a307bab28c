"""The admin site's check form: HTTP secrets are write-only there too (blank keeps, forget clears)."""

from __future__ import annotations

from typing import Any

import pytest

from checks.models import Check

pytestmark = pytest.mark.django_db


@pytest.fixture
def site() -> Check:
    check = Check(
        name="site",
        kind="http",
        target="http://127.0.0.1:5000/health",
        username="monitor",
        password="pa55-word",
        bearer_token="tok-123456",
    )
    check.full_clean()
    check.save()
    return check


def change(admin_client: Any, check: Check, **fields: str) -> Any:
    form = {
        "name": check.name,
        "kind": check.kind,
        "target": check.target,
        "options": "{}",
        "enabled": "on",
        "tags": "[]",
        "interval": "60",
        "timeout": "10",
        "retries": "1",
        "next_run_at_0": "2026-01-01",
        "next_run_at_1": "00:00:00",
        "host_tag": "",
        "username": check.username,
        **fields,
    }
    return admin_client.post(f"/admin/checks/check/{check.pk}/change/", form)


def test_the_change_page_never_shows_a_stored_secret(admin_client: Any, site: Check) -> None:
    html = admin_client.get(f"/admin/checks/check/{site.pk}/change/").content.decode()
    assert "pa55-word" not in html and "tok-123456" not in html
    assert html.count("One is stored (never shown)") == 2


def test_blank_secrets_keep_the_stored_ones(admin_client: Any, site: Check) -> None:
    response = change(admin_client, site, target="http://127.0.0.1:5001/health")
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.target, site.password, site.bearer_token) == (
        "http://127.0.0.1:5001/health",
        "pa55-word",
        "tok-123456",
    )


def test_a_new_secret_replaces_the_stored_one(admin_client: Any, site: Check) -> None:
    assert change(admin_client, site, password="new-pass").status_code == 302
    site.refresh_from_db()
    assert (site.password, site.bearer_token) == ("new-pass", "tok-123456")


def test_forget_clears_the_stored_secrets(admin_client: Any, site: Check) -> None:
    assert change(admin_client, site, username="", forget_secrets="on").status_code == 302
    site.refresh_from_db()
    assert (site.username, site.password, site.bearer_token) == ("", "", "")
