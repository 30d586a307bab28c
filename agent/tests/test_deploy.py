"""The systemd unit, the per-host env files, deploy.sh and the Makefile."""

import os
import pwd
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from agent import __version__
from agent.config import KNOWN_VARIABLES, read_env_file

AGENT = Path(__file__).resolve().parents[1]
UNIT = AGENT / "deploy" / "host-agent.service"
HOSTS = ("platform-vps", "vpn-gateway", "apricot")


def unit_directives() -> dict[str, str]:
    lines = [line for line in UNIT.read_text().splitlines() if "=" in line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


@pytest.mark.needs_tool("systemd-analyze", "systemd")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    # verify insists that ExecStart's binary exists, and /opt/statusdash-agent only
    # exists on a deployed host: check a copy that starts this Python instead.
    unit = tmp_path / "host-agent.service"
    text = UNIT.read_text().replace("/opt/statusdash-agent/venv/bin/python", sys.executable)
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "host-agent.service" not in result.stderr


@pytest.mark.needs_tool("systemd-analyze", "systemd")
def test_unit_as_shipped_only_lacks_the_installed_venv(tmp_path):
    result = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True)
    complaints = [line for line in result.stderr.splitlines() if "host-agent.service" in line]
    assert complaints == [
        "host-agent.service: Command /opt/statusdash-agent/venv/bin/python is not executable: No such file or directory"
    ]


def test_unit_runs_unprivileged_and_hardened():
    unit = unit_directives()
    assert unit["User"] == "statusdash-agent"
    assert unit["ExecStart"] == "/opt/statusdash-agent/venv/bin/python -m agent run"
    assert unit["Restart"] == "always"
    assert unit["NoNewPrivileges"] == "yes"
    assert unit["ProtectSystem"] == "strict"
    assert unit["ProtectHome"] == "read-only"
    assert unit["PrivateTmp"] == "yes"
    assert unit["StateDirectory"] == "statusdash-agent"
    assert unit["ReadOnlyPaths"] == "/etc/statusdash"
    # A renewed certificate replaces the old pair there (agent/renew.py), updates go beside the agent.
    assert unit["ReadWritePaths"] == "-/opt/statusdash-agent -/etc/statusdash/certs"
    assert unit["CapabilityBoundingSet"] == ""


@pytest.mark.parametrize("host", HOSTS)
def test_host_env_file_is_complete_and_holds_no_secrets(host):
    values = read_env_file(str(AGENT / "deploy" / f"{host}.env"))
    assert set(values) <= set(KNOWN_VARIABLES)
    assert values["SERVER_URL"] == "https://status.example.internal:5000"
    assert values["MTLS_ENABLED"] == "true"
    assert values["SPOOL_DIR"] == "/var/lib/statusdash-agent"  # the unit's StateDirectory
    for name in ("TLS_CERT", "TLS_KEY", "TLS_CA"):
        assert values[name].startswith("/etc/statusdash/certs/")
    assert "API_KEY" not in values


STAND_INS = {
    # ssh HOST COMMAND...: run the command here, like a remote shell would.
    "ssh": '#!/bin/sh\nshift\nexec sh -c "$*"\n',
    # scp SRC HOST:DEST: copy locally.
    "scp": '#!/bin/sh\nexec cp "$1" "${2#*:}"\n',
    # systemctl: record the call; the unit "is active".
    "systemctl": '#!/bin/sh\necho "$*" >> "$SYSTEMCTL_LOG"\n'
    'case "$1" in status) echo "host-agent.service - active (running)";; esac\nexit 0\n',
}


@pytest.fixture
def target(tmp_path, pki):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in STAND_INS.items():
        path = bin_dir / name
        path.write_text(text)
        path.chmod(0o755)
    vault = tmp_path / "vault" / "certs"
    (vault / "clients").mkdir(parents=True)
    (vault / "ca").mkdir()
    cert, key = pki.issue(pki.authority, "apricot")
    shutil.copy(cert, vault / "clients" / "apricot.crt")
    shutil.copy(key, vault / "clients" / "apricot.key")
    shutil.copy(pki.ca_path, vault / "ca" / "ca.crt")
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SSH": str(bin_dir / "ssh"),
        "SCP": str(bin_dir / "scp"),
        "VAULT_PATH": str(tmp_path / "vault"),
        "DEST_ROOT": str(tmp_path / "root"),
        "AGENT_USER": "daemon",  # exists on Debian; the test must not create users
        "PYTHON": sys.executable,
        "SKIP_PIP": "1",  # no network for PyPI here
        "START_WAIT": "0",
        "SYSTEMCTL_LOG": str(tmp_path / "systemctl.log"),
    }
    return {"env": env, "root": tmp_path / "root", "log": tmp_path / "systemctl.log", "vault": vault}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="installs with root ownership")
@pytest.mark.timeout(180)  # builds the agent's virtualenv with pip
def test_make_deploy_installs_the_agent_on_a_local_target(target):
    try:
        daemon_uid = pwd.getpwnam("daemon").pw_uid
    except KeyError:
        pytest.skip("no 'daemon' user to run the agent as")
    result = subprocess.run(
        ["make", "-C", str(AGENT), "deploy-agent-apricot"],
        env=target["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"statusdash-agent {__version__}" in result.stdout  # the installed agent runs
    assert "host-agent is running" in result.stdout

    root = target["root"]
    app = root / "opt" / "statusdash-agent"
    assert (app / "agent" / "__main__.py").is_file()
    assert (app / "agent" / "requirements.txt").is_file()
    assert not (app / "agent" / "tests").exists()
    assert os.access(app / "venv" / "bin" / "python", os.X_OK)

    etc = root / "etc" / "statusdash"
    assert (etc / "agent.env").read_text() == (AGENT / "deploy" / "apricot.env").read_text()
    assert mode(etc / "agent.env") == 0o640
    key = etc / "certs" / "agent.key"
    assert key.read_bytes() == (target["vault"] / "clients" / "apricot.key").read_bytes()
    assert mode(key) == 0o600 and key.stat().st_uid == daemon_uid
    assert mode(etc / "certs" / "agent.crt") == 0o644
    assert (etc / "certs" / "ca.crt").read_bytes() == (target["vault"] / "ca" / "ca.crt").read_bytes()
    assert mode(etc / "certs") == 0o750

    unit = root / "etc" / "systemd" / "system" / "host-agent.service"
    assert unit.read_text() == UNIT.read_text()
    calls = target["log"].read_text().splitlines()
    assert calls[:3] == ["daemon-reload", "enable host-agent.service", "restart host-agent.service"]


def test_deploy_refuses_a_host_without_certificates(target):
    (target["vault"] / "clients" / "apricot.key").unlink()
    result = subprocess.run([str(AGENT / "deploy.sh"), "apricot"], env=target["env"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "missing certificate for apricot:" in result.stderr and "apricot.key" in result.stderr
    assert not target["root"].exists()


def test_deploy_refuses_an_unknown_host(target):
    result = subprocess.run([str(AGENT / "deploy.sh"), "nowhere"], env=target["env"], capture_output=True, text=True)
    assert result.returncode == 2 and "no env file for nowhere" in result.stderr


def test_make_targets_map_to_the_designs_hosts():
    result = subprocess.run(
        ["make", "-n", "-C", str(AGENT), "deploy-agent-platform", "deploy-agent-vpn", "deploy-agent-apricot"],
        capture_output=True,
        text=True,
    )
    commands = [line for line in result.stdout.splitlines() if line.startswith("./deploy.sh")]
    assert commands == ["./deploy.sh platform-vps", "./deploy.sh vpn-gateway", "./deploy.sh apricot"]


def test_agent_build_makes_a_versioned_tarball_without_tests(tmp_path):
    result = subprocess.run(
        ["make", "-C", str(AGENT), "agent-build", f"DIST={tmp_path}"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    with tarfile.open(tmp_path / f"statusdash-agent-{__version__}.tar.gz") as tar:
        names = tar.getnames()
    assert {"agent/__main__.py", "agent/requirements.txt", "agent/deploy/host-agent.service"} <= set(names)
    assert not [n for n in names if "/tests" in n or n.endswith((".pyc", ".key"))]
