"""NUL in a URL is a 400 saying where, never a database error (statusdash/lib/nul.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from hosts.models import Host


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/api/hosts/web%00", "in the path"),
        ("/hosts/web%00/", "in the path"),
        ("/hosts/web-1/?range=24h%00", "in the query parameter 'range'"),
        ("/status/?x%00=1", "in the query parameter 'x\\x00'"),
        ("/login/?next=/%00", "in the query parameter 'next'"),
    ],
)
def test_nul_in_the_url_is_a_400_saying_where(admin_client: Client, read_key: str, url: str, where: str) -> None:
    Host.objects.create(name="web-1")
    response = admin_client.get(url, HTTP_AUTHORIZATION=f"Bearer {read_key}")
    assert response.status_code == 400
    assert response.json() == {"detail": f"NUL characters (%00) are not allowed: {where}"}


@pytest.mark.django_db
def test_a_percent_sign_that_is_not_a_nul_passes(admin_client: Client) -> None:
    Host.objects.create(name="web-1")
    assert admin_client.get("/hosts/web-1/?note=100%25").status_code == 200
