"""The deploy story against a real Daphne: a script silences web-1 for 30 minutes with one
request, an open alerts page shows it at once, and expiring it early ends it there too."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from django.contrib.auth.models import User
from django.test import Client
from websockets.sync.client import connect

from accounts.roles import OPERATOR, set_role
from alerts.models import Alert
from hosts.auth import issue_token
from hosts.models import Host


def alerts_socket(base_url: str, session_id: str) -> Any:
    return connect(
        f"ws://{urlsplit(base_url).netloc}/ws/alerts/",
        additional_headers={"Cookie": f"sessionid={session_id}", "Origin": base_url},
        open_timeout=30,
    )


def test_a_deploy_script_silences_a_host_and_the_alerts_page_shows_it_live(live_hub: str) -> None:
    web = Host.objects.create(name="web-1")
    Alert.objects.fire("cpu-high", host=web, severity="critical")
    deployer = User.objects.create_user("deploy-bot")
    set_role(deployer, OPERATOR)
    token, _ = issue_token(deployer)
    viewer = Client()
    viewer.force_login(User.objects.create_user("watcher"))
    auth = {"Authorization": f"Bearer {token}"}

    session = viewer.cookies["sessionid"].value

    def alerts_page() -> str:
        return requests.get(f"{live_hub}/alerts/", cookies={"sessionid": session}, timeout=10).text

    with alerts_socket(live_hub, session) as socket:
        created = requests.post(
            f"{live_hub}/api/silences",
            json={"host": "web-1", "duration_seconds": 1800, "reason": "deploy"},
            headers=auth,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        # The alerts page is told to refresh itself (its list re-reads), and then shows the silence.
        assert 'id="live-refresh"' in str(socket.recv(timeout=15))
        page = alerts_page()
        assert "Silenced until" in page and "deploy (deploy-bot)" in page

        expired = requests.post(f"{live_hub}/api/silences/{created.json()['id']}/expire", headers=auth, timeout=10)
        assert expired.status_code == 200 and expired.json()["active"] is False
        assert 'id="live-refresh"' in str(socket.recv(timeout=15))
        assert "Silenced until" not in alerts_page()
