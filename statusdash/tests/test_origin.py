"""statusdash.lib.origin: a dashboard socket only from a page of this hub, port included."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from accounts.roles import VIEWER
from statusdash.lib.origin import allowed_origin
from statusdash.tests.support import user_with_role


@pytest.fixture
def hub_settings(settings: Any) -> Any:
    settings.ALLOWED_HOSTS = ["hub.example", "localhost", "127.0.0.1"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://hub.example:8443"]
    return settings


def test_the_hubs_own_origin_is_allowed(hub_settings: Any) -> None:
    assert allowed_origin("http://localhost:5000", "localhost:5000")


def test_an_origin_on_another_port_of_the_same_host_is_refused(hub_settings: Any) -> None:
    assert not allowed_origin("http://localhost:8080", "localhost:5000")


def test_an_origin_without_a_port_is_not_the_hub_on_a_port(hub_settings: Any) -> None:
    assert not allowed_origin("http://localhost", "localhost:5000")


def test_another_host_is_refused(hub_settings: Any) -> None:
    assert not allowed_origin("http://evil.example:5000", "localhost:5000")


def test_a_missing_origin_is_refused(hub_settings: Any) -> None:
    assert not allowed_origin("", "localhost:5000")


def test_a_host_outside_allowed_hosts_is_refused_even_from_itself(hub_settings: Any) -> None:
    assert not allowed_origin("http://other.example:5000", "other.example:5000")


def test_public_url_is_trusted_behind_a_proxy_that_drops_the_port(hub_settings: Any) -> None:
    # nginx passes `Host: hub.example`; the browser's page is https://hub.example:8443.
    assert allowed_origin("https://hub.example:8443", "hub.example")
    assert not allowed_origin("https://hub.example:9443", "hub.example")


@pytest.mark.slow
def test_a_real_daphne_refuses_a_socket_from_another_port(live_hub: str) -> None:
    user_with_role("viewer", VIEWER, password="pw-viewer-123")
    browser = Client()
    assert browser.login(username="viewer", password="pw-viewer-123")
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    socket_url = live_hub.replace("http://", "ws://") + "/ws/dashboard/"
    port = int(live_hub.rsplit(":", 1)[1])
    other = f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}"
    with pytest.raises(InvalidStatus) as refused:
        connect(socket_url, origin=other, additional_headers={"Cookie": cookie}, open_timeout=10).close()  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    with connect(socket_url, origin=live_hub, additional_headers={"Cookie": cookie}, open_timeout=10) as socket:  # type: ignore[arg-type]
        assert socket.response.status_code == 101  # the page's own origin still gets in
