"""What can be checked of the container deployment without a container engine.

docker-compose validates the compose files, nginx validates the shipped config with
test certificates, and the Dockerfile, .dockerignore and Makefile are read for the
promises docs/deploy.md makes about them.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from statusdash.tests.skips import require_tool
from statusdash.tests.support import BASE_DIR

HUB_SERVICES = ("migrate", "web", "worker", "beat")


def project_copy(tmp_path: Path, env: str = "") -> Path:
    """The deployment files in a fresh directory, as a user has them after `make setup`."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("docker-compose.yml", "docker-compose.e2e.yml", "Makefile", ".env.example"):
        shutil.copy(BASE_DIR / name, project / name)
    (project / ".env").write_text((BASE_DIR / ".env.example").read_text() + env)
    return project


def compose_config(project: Path, *files: str) -> dict[str, Any]:
    command = [require_tool("docker-compose", "docker-compose")]
    for name in files or ("docker-compose.yml",):
        command += ["-f", name]
    result = subprocess.run(
        [*command, "config"], cwd=project, capture_output=True, text=True, timeout=60, env=_clean_env()
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Volumes in the long form, whichever form this docker-compose prints."""
    result = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            kind = "bind" if source.startswith(("/", ".")) else "volume"
            volume = {"type": kind, "source": source, "target": target, "read_only": mode == ["ro"]}
        result.append(volume)
    return result


def _clean_env() -> dict[str, str]:
    # Compose fills ${...} from the environment before .env: keep this test's own out.
    return {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "VAULT_PATH", "STATUS_PORT", "DATABASE_URL")}


# --- docker-compose.yml


@pytest.fixture
def compose(tmp_path: Path) -> dict[str, Any]:
    return compose_config(project_copy(tmp_path, "DATA_DIR=/srv/statusdash\nVAULT_PATH=/srv/vault\n"))


def test_compose_has_the_designed_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"migrate", "web", "worker", "beat", "redis", "nginx"}


def test_every_hub_process_reads_env_file_and_shares_redis(compose: dict[str, Any]) -> None:
    for name in HUB_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0", name
        assert environment["DATA_DIR"] == "/data", name
        assert "STATUS_JWT_SECRET" in environment, f"{name} does not read .env"


def test_data_lives_on_the_host_and_the_cache_in_a_volume(compose: dict[str, Any]) -> None:
    web = {v["target"]: v for v in mounts(compose["services"]["web"])}
    assert web["/data/db"]["source"] == "/srv/statusdash/db"
    assert web["/data/backups"]["source"] == "/srv/statusdash/backups"
    assert web["/data/cache"]["type"] == "volume" and web["/data/cache"]["source"] == "status-cache"
    assert compose["services"]["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"].startswith("/data/cache/")


def test_certificates_are_mounted_read_only_from_the_vault(compose: dict[str, Any]) -> None:
    for name in ("web", "nginx"):
        vault_mounts = [v for v in mounts(compose["services"][name]) if v["source"].startswith("/srv/vault/")]
        assert vault_mounts, name
        assert all(v.get("read_only") for v in vault_mounts), name
    nginx = compose["services"]["nginx"]
    targets = {v["target"] for v in mounts(nginx)}
    for key in ("TLS_CERT", "TLS_KEY", "TLS_CA"):
        assert any(nginx["environment"][key].startswith(t + "/") for t in targets), key


def test_nginx_uses_the_shipped_config_and_is_the_only_trusted_proxy(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    template = next(v for v in mounts(nginx) if v["target"].startswith("/etc/nginx/templates/"))
    assert template["source"].endswith("deploy/nginx/statusdash.conf")
    assert nginx["environment"]["STATUS_UPSTREAM"] == "web:5000"
    address = nginx["networks"]["statusdash"]["ipv4_address"]
    for name in HUB_SERVICES:
        assert compose["services"][name]["environment"]["TRUSTED_PROXIES"] == address
    # Only nginx is published; Daphne is reachable through it alone (forged headers stay outside).
    published = [name for name, service in compose["services"].items() if service.get("ports")]
    assert published == ["nginx"]


def test_exactly_one_beat(compose: dict[str, Any]) -> None:
    beats = [name for name, s in compose["services"].items() if "beat" in s.get("command", [])]
    assert beats == ["beat"]
    assert all("--beat" not in s.get("command", []) for s in compose["services"].values())
    assert compose["services"]["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_hub_processes_wait_for_migrations(compose: dict[str, Any]) -> None:
    for name in ("web", "worker", "beat"):
        assert compose["services"][name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_e2e_override_adds_an_agent_with_a_client_certificate(tmp_path: Path) -> None:
    config = compose_config(project_copy(tmp_path), "docker-compose.yml", "docker-compose.e2e.yml")
    agent = config["services"]["agent"]
    assert agent["network_mode"] == "service:nginx"
    assert agent["environment"]["MTLS_ENABLED"] == "true"
    assert agent["environment"]["TLS_CERT"].endswith("/apricot.crt")
    assert config["services"]["web"]["environment"]["REPORT_INTERVAL"] == "2"
    assert config["services"]["web"]["environment"]["REDIS_URL"] == "redis://redis:6379/0"  # merged, not replaced


def test_compose_without_env_file_is_refused_clearly(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    (project / ".env").unlink()
    result = subprocess.run(
        [require_tool("docker-compose", "docker-compose"), "config"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert ".env" in result.stderr


# --- deploy/nginx/statusdash.conf


@pytest.mark.django_db
def test_shipped_nginx_config_passes_nginx_t(tmp_path: Path, settings: Any) -> None:
    from hosts import pki, vault
    from hosts.tests.test_nginx_proxy import write_nginx_config

    nginx = require_tool("nginx", "nginx")
    settings.VAULT_PATH = tmp_path / "vault"
    pki._ca_certificate.cache_clear()
    vault.create_ca()
    config, _ = write_nginx_config(tmp_path / "nginx", "http://127.0.0.1:5000", "http://127.0.0.1:5001")
    result = subprocess.run(
        [nginx, "-t", "-p", str(config.parent), "-c", str(config), "-e", str(config.parent / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_config_passes_websockets_through_unbuffered() -> None:
    text = (BASE_DIR / "deploy" / "nginx" / "statusdash.conf").read_text()
    websocket = text[text.index("location /ws/") :]
    for directive in ("proxy_http_version 1.1", "proxy_set_header Upgrade $http_upgrade", "proxy_buffering off"):
        assert directive in websocket, directive
    assert "gzip on" not in text  # nothing compresses the socket (nginx's default is off)
    assert "ssl_verify_client optional" in text


# --- Dockerfile and .dockerignore


def dockerfile() -> list[tuple[str, str]]:
    text = (BASE_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_on_slim_python_311() -> None:
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", dockerfile()[0][1])


def test_dockerfile_installs_dependencies_before_copying_the_code() -> None:
    steps = dockerfile()
    requirements = next(i for i, (op, arg) in enumerate(steps) if op == "COPY" and "requirements.txt" in arg)
    install = next(i for i, (op, arg) in enumerate(steps) if op == "RUN" and "pip install -r requirements.txt" in arg)
    code = next(i for i, (op, arg) in enumerate(steps) if op == "COPY" and arg.startswith(". "))
    assert requirements < install < code


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [arg for op, arg in dockerfile() if op == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")


def test_dockerfile_collects_static_files_and_checks_health() -> None:
    steps = dockerfile()
    assert any(op == "RUN" and "collectstatic" in arg for op, arg in steps)
    (healthcheck,) = [arg for op, arg in steps if op == "HEALTHCHECK"]
    assert "/health" in healthcheck


def test_dockerignore_keeps_secrets_and_data_out_of_the_image() -> None:
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    for pattern in (".env", "var", ".venv", ".git", "**/*.key", "**/*.pem", "**/*.db"):
        assert pattern in ignored, pattern


# --- Makefile


def make(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=project, capture_output=True, text=True, timeout=60
    )


def test_make_help_lists_every_target() -> None:
    text = (BASE_DIR / "Makefile").read_text()
    phony = {name for line in re.findall(r"^\.PHONY:(.*)$", text, re.M) for name in line.split()}
    listed = set(re.findall(r"^([a-zA-Z_%-]+):.*## ", text, re.M))
    assert phony - listed == {"engine", "env-secrets"}  # the internal prerequisites
    for target in ("setup", "certs", "build", "up", "down", "logs", "status", "restart", "agent-build"):
        assert target in listed
    assert {"deploy-agent-%", "deploy-agent-all", "agent-status", "db-shell", "backup", "clean"} <= listed
    assert {"run", "test", "lint", "bench"} <= listed


def test_make_setup_creates_env_with_secrets_and_the_data_directories(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    (project / ".env").unlink()
    result = make(project, "setup")
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines() if "=" in line)
    assert len(env["STATUS_ADMIN_PASSWORD"]) >= 16
    assert len(env["STATUS_JWT_SECRET"]) == 64
    assert len(env["SECRET_KEY"]) == 64
    assert env["VAULT_PATH"] == "./var/vault"
    assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600
    for directory in ("var/db", "var/backups/databases", "var/vault/certs"):
        assert (project / directory).is_dir(), directory


def test_make_setup_keeps_values_already_set(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    (project / ".env").unlink()
    make(project, "setup")
    env_file = project / ".env"
    env_file.write_text(env_file.read_text().replace("STATUS_ADMIN_PASSWORD=", "STATUS_ADMIN_PASSWORD=mine-", 1))
    before = env_file.read_text()
    result = make(project, "setup")
    assert result.returncode == 0, result.stderr
    assert env_file.read_text() == before
    assert "generated" not in result.stdout


@pytest.mark.parametrize("target", ["build", "up", "down", "logs", "status", "restart", "clean"])
def test_container_targets_fail_clearly_without_an_engine(tmp_path: Path, target: str) -> None:
    result = make(project_copy(tmp_path), target, "ENGINE=/bin/false", "COMPOSE=docker-compose")
    assert result.returncode != 0
    assert f"make {target}: no container engine is running" in result.stderr


def test_container_targets_fail_clearly_without_compose(tmp_path: Path) -> None:
    result = make(project_copy(tmp_path), "up", "COMPOSE=")
    assert result.returncode != 0
    assert "make up: no compose found" in result.stderr


def test_ci_installs_the_tools_these_checks_need() -> None:
    ci = (BASE_DIR / ".ci" / "run").read_text()
    for package in ("prometheus", "docker-compose", "nginx"):
        assert re.search(rf"\b{package}\b", ci), package


@pytest.mark.parametrize("missing", ["SECRET_KEY", "STATUS_JWT_SECRET"])
def test_make_up_refuses_to_start_without_the_shared_secrets(tmp_path: Path, missing: str) -> None:
    project = project_copy(tmp_path)
    values = {"SECRET_KEY": "k" * 64, "STATUS_JWT_SECRET": "j" * 64, missing: ""}
    (project / ".env").write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    result = make(project, "up", "ENGINE=/bin/true", "COMPOSE=true")  # an engine that answers
    assert result.returncode != 0
    assert f"make up: {missing} is empty in .env; run make setup to generate it" in result.stderr
