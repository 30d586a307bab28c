"""The deploy story against a real Daphne: a deploy script silences web-1 for 30 minutes with one
command (`python -m statusdash.client`, as a script runs it), an open alerts page shows it at
once, and expiring it early ends it there too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from websockets.sync.client import connect

from accounts.roles import OPERATOR, VIEWER, set_role
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
    watcher = User.objects.create_user("watcher")
    set_role(watcher, VIEWER)
    viewer.force_login(watcher)
    script_env = {"PATH": os.environ["PATH"], "STATUSDASH_URL": live_hub, "STATUSDASH_TOKEN": token}

    def deploy_script(*argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "statusdash.client", *argv],
            cwd=settings.BASE_DIR,
            env=script_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    session = viewer.cookies["sessionid"].value

    def alerts_page() -> str:
        return requests.get(f"{live_hub}/alerts/", cookies={"sessionid": session}, timeout=10).text

    with alerts_socket(live_hub, session) as socket:
        said = deploy_script("silence", "add", "--host", "web-1", "--for", "30m", "--reason", "deploy")
        silence_id = re.fullmatch(r"silence (\d+) on host web-1 until \S+\n", said).group(1)  # type: ignore[union-attr]
        assert 'id="live-refresh"' in str(socket.recv(timeout=15))
        page = alerts_page()
        assert "Silenced until" in page and "deploy (deploy-bot)" in page

        assert deploy_script("silence", "expire", silence_id) == f"silence {silence_id} expired\n"
        assert 'id="live-refresh"' in str(socket.recv(timeout=15))
        assert "Silenced until" not in alerts_page()
