"""python manage.py local_agent: the env file `make run` starts its local agent with."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from hosts.management.commands.local_agent import local_host_name
from hosts.models import ApiKey, ApiKeyScope


def local_agent(data_dir: Path, port: int = 5071) -> tuple[Path, dict[str, str]]:
    out = StringIO()
    with override_settings(DATA_DIR=data_dir, STATUS_PORT=port, MTLS_ENABLED=False):
        call_command("local_agent", stdout=out)
    path = Path(out.getvalue().strip().splitlines()[-1])
    return path, dict(line.split("=", 1) for line in path.read_text().splitlines())


@pytest.mark.django_db
def test_prints_the_env_file_with_an_agent_key_for_this_machine(tmp_path: Path) -> None:
    path, env = local_agent(tmp_path)
    assert path == tmp_path / "agent" / "local.env"
    assert path.stat().st_mode & 0o777 == 0o600
    assert env["SERVER_URL"] == "http://127.0.0.1:5071" and env["MTLS_ENABLED"] == "false"
    key = ApiKey.objects.find(env["API_KEY"])
    assert key is not None and key.scope == ApiKeyScope.AGENT
    assert key.host is not None and key.host.name == local_host_name()


@pytest.mark.django_db
def test_keeps_the_key_across_restarts(tmp_path: Path) -> None:
    _, first = local_agent(tmp_path)
    _, second = local_agent(tmp_path, port=5072)
    assert second["API_KEY"] == first["API_KEY"]
    assert second["SERVER_URL"] == "http://127.0.0.1:5072"
    assert ApiKey.objects.count() == 1


@pytest.mark.django_db
def test_replaces_a_revoked_key(tmp_path: Path) -> None:
    _, first = local_agent(tmp_path)
    old = ApiKey.objects.find(first["API_KEY"])
    assert old is not None
    old.revoke()
    _, second = local_agent(tmp_path)
    assert second["API_KEY"] != first["API_KEY"]
    assert ApiKey.objects.find(second["API_KEY"]) is not None
