"""agent/install.sh run for real, into a temporary DEST_ROOT, against a real hub over mutual TLS.

The script is the one the hub serves (downloaded over HTTPS); it builds the agent's venv,
enrolls with `python -m agent enroll` and sends a first report with the installed agent.
Packages come from a wheelhouse made once per session (`pip download`; the package index
is needed for that alone), so each install is offline and the same from run to run: the
`--system-packages` way would need psutil, requests and cryptography in the base
interpreter's own site-packages, which this machine's pyenv interpreters do not have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import override_settings
from django.utils import timezone

from conftest import hub_env
from hosts import agent_dist, pki
from hosts.models import EnrollmentToken, Host
from hosts.tests.conftest import serving
from metrics.models import MetricSample
from statusdash.tests.skips import unavailable
from statusdash.tests.support import BASE_DIR, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The interpreter this venv was made from: what a host's python3 is (a venv's own python
# would make venvs that see this test run's packages).
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
OLD_PYTHON = Path.home() / ".pyenv/versions/3.8.18/bin/python3.8"


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wheelhouse")
    requirements = str(BASE_DIR / "agent" / "requirements-enroll.txt")
    subprocess.run(
        [BASE_PYTHON, "-m", "pip", "download", "--quiet", "-d", str(directory), "-r", requirements], check=True
    )
    return directory


@pytest.fixture(scope="module")
def module_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    vault = tmp_path_factory.mktemp("install-vault")
    with override_settings(VAULT_PATH=vault):
        pki._ca_certificate.cache_clear()
        ca = pki.CertificateAuthority.create()
        key = pki.generate_key()
        server = ca.sign(key.public_key(), "127.0.0.1", server=True, days=30, sans=["127.0.0.1", "localhost"])
        cert_path, key_path = pki.server_paths()
        pki.write_file(key_path, pki.key_pem(key), 0o600)
        pki.write_file(cert_path, pki.cert_pem(server).encode())
        yield vault
    pki._ca_certificate.cache_clear()


@pytest.fixture(scope="module")
def agent_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of agent/ the hub serves (AGENT_SOURCE_DIR): update tests publish a new version in it."""
    source = tmp_path_factory.mktemp("agent-source") / "agent"
    shutil.copytree(BASE_DIR / "agent", source, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    return source


@pytest.fixture(scope="module")
def hub(
    module_vault: Path, agent_source: Path, tmp_path_factory: pytest.TempPathFactory, django_db_setup: Any
) -> Iterator[str]:
    """The mutual-TLS hub on a free port, its PUBLIC_URL that port (what install.sh carries)."""
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    env = hub_env(
        tmp_path_factory.mktemp("install-hub"),
        VAULT_PATH=str(module_vault),
        MTLS_ENABLED="true",
        PUBLIC_URL=url,
        AGENT_SOURCE_DIR=str(agent_source),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "statusdash.tls_server", "-p", str(port), "--client-certs", "optional"],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "statusdash.settings", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with serving(process, url, module_vault / "certs" / "ca" / "ca.crt") as served:
        yield served


@pytest.fixture
def script(hub: str, module_vault: Path, tmp_path: Path) -> Path:
    """install.sh as `curl https://HUB/agent/install.sh` gets it."""
    response = requests.get(f"{hub}/agent/install.sh", verify=str(module_vault / "certs/ca/ca.crt"), timeout=10)
    response.raise_for_status()
    path = tmp_path / "install.sh"
    path.write_text(response.text)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def run(root: Path, wheelhouse: Path) -> Any:
    def run(script: Path, *args: str, python: str = BASE_PYTHON) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "DEST_ROOT": str(root),
            "PYTHON": python,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheelhouse),
        }
        # dash: the script must not lean on bash.
        return subprocess.run(["dash", str(script), *args], env=env, capture_output=True, text=True, timeout=300)

    return run


@pytest.fixture
def prepared_venv(root: Path, wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The agent's venv, as a first install leaves it, for tests about what happens after it."""
    template = tmp_path_factory.getbasetemp() / "agent-venv"
    if not template.exists():
        subprocess.run([BASE_PYTHON, "-m", "venv", str(template)], check=True)
        pip = [str(template / "bin/python"), "-m", "pip", "install", "--quiet", "--no-index"]
        requirements = str(BASE_DIR / "agent/requirements-enroll.txt")
        subprocess.run([*pip, "--find-links", str(wheelhouse), "-r", requirements], check=True)
    shutil.copytree(template, root / "opt/statusdash-agent/venv", symlinks=True)


def new_host(name: str = "web-7") -> tuple[Host, str]:
    host = Host.objects.create(name=name)
    _, token = EnrollmentToken.issue(host, hours=1)
    return host, token


def test_install_enrolls_and_the_installed_agent_reports(script: Path, run: Any, root: Path, hub: str) -> None:
    host, token = new_host()
    result = run(script, "--token", token, "--name", "web-7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"connected: web-7 reports to {hub} every 10 s"
    host.refresh_from_db()
    assert host.last_seen is not None
    assert host.agent_version == agent_dist.agent_version()
    assert MetricSample.objects.filter(host=host).count() == 1
    certs = root / "etc/statusdash/certs"
    assert (certs / "agent.key").stat().st_mode & 0o777 == 0o600
    assert pki.common_name(pki.load_certificate((certs / "agent.crt").read_bytes()).subject) == "web-7"
    env = (root / "etc/statusdash/agent.env").read_text()
    assert f"SERVER_URL={hub}\n" in env
    assert f"TLS_KEY={certs}/agent.key\n" in env
    unit = (root / "etc/systemd/system/host-agent.service").read_text()
    assert unit == (BASE_DIR / "agent/deploy/host-agent.service").read_text()


@pytest.mark.usefixtures("prepared_venv")
def test_install_again_upgrade_and_uninstall_round_trip(script: Path, run: Any, root: Path) -> None:
    host, token = new_host()
    assert run(script, "--token", token, "--name", "web-7").returncode == 0
    key = (root / "etc/statusdash/certs/agent.key").read_bytes()

    again = run(script)  # idempotent: no token needed once enrolled, the identity is kept
    assert again.returncode == 0, again.stderr
    assert (root / "etc/statusdash/certs/agent.key").read_bytes() == key
    assert "connected: web-7 reports to" in again.stdout

    installed = root / "opt/statusdash-agent/agent/__init__.py"
    installed.write_text(installed.read_text().replace(agent_dist.agent_version(), "0.9.0"))
    upgraded = run(script, "--upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded the agent from 0.9.0 to {agent_dist.agent_version()}" in upgraded.stdout
    assert "connected: web-7 reports to" in upgraded.stdout
    assert (root / "etc/statusdash/certs/agent.key").read_bytes() == key
    assert MetricSample.objects.filter(host=host).count() == 3

    removed = run(script, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())
    assert left == []
    assert "nothing to remove" in run(script, "--uninstall").stdout


@pytest.mark.usefixtures("prepared_venv")
def test_a_failed_first_report_after_upgrade_rolls_back(script: Path, run: Any, root: Path) -> None:
    _, token = new_host()
    assert run(script, "--token", token, "--name", "web-7").returncode == 0
    host = Host.objects.get(name="web-7")
    host.enabled = False
    host.save()  # through the model: the hub drops its cached identities on a host change
    installed = root / "opt/statusdash-agent/agent/__init__.py"
    installed.write_text(installed.read_text().replace(agent_dist.agent_version(), "0.9.0"))
    result = run(script, "--upgrade")
    assert result.returncode == 1
    assert "host 'web-7' is disabled" in result.stderr
    assert "rolled back to agent 0.9.0" in result.stdout
    assert '"0.9.0"' in installed.read_text()


def test_upgrade_without_an_install_is_refused(script: Path, run: Any) -> None:
    result = run(script, "--upgrade")
    assert result.returncode == 2
    assert "--upgrade: no enrolled agent" in result.stderr


def test_a_first_install_needs_a_token(script: Path, run: Any) -> None:
    result = run(script)
    assert result.returncode == 2
    assert "--token is required" in result.stderr


@pytest.mark.usefixtures("prepared_venv")
def test_an_expired_token_is_refused_with_its_reason(script: Path, run: Any, root: Path) -> None:
    _, token = new_host()
    EnrollmentToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    result = run(script, "--token", token, "--name", "web-7")
    assert result.returncode == 7
    assert "enrollment refused: HTTP 403: this enrollment token expired at" in result.stderr
    assert not (root / "etc/statusdash/certs/agent.key").exists()


@pytest.mark.usefixtures("prepared_venv")
def test_a_used_token_is_refused_with_its_reason(script: Path, run: Any) -> None:
    _, token = new_host()
    EnrollmentToken.objects.update(used_at=timezone.now())
    result = run(script, "--token", token, "--name", "web-7")
    assert result.returncode == 7
    assert "enrollment refused: HTTP 403: this enrollment token was already used" in result.stderr


@pytest.mark.usefixtures("prepared_venv")
def test_a_name_other_than_the_tokens_host_is_refused(script: Path, run: Any) -> None:
    _, token = new_host()
    result = run(script, "--token", token, "--name", "db-1")
    assert result.returncode == 7
    assert "CN 'db-1' does not match the token's host 'web-7'" in result.stderr


def test_a_script_whose_ca_does_not_match_its_fingerprint_is_refused(script: Path, run: Any, root: Path) -> None:
    text = script.read_text()
    fingerprint = text.split("CA_FINGERPRINT='")[1].split("'")[0]
    script.write_text(text.replace(fingerprint, "AB" + fingerprint[2:]))
    result = run(script, "--token", "sde_x", "--name", "web-7")
    assert result.returncode == 5
    assert "does not have the fingerprint it announces" in result.stderr
    assert not root.exists()


def test_a_hub_not_signed_by_the_scripts_ca_is_refused(
    script: Path, run: Any, root: Path, tmp_path: Path, settings: Any
) -> None:
    """The script from our hub meets an impostor at the hub's address: the CA it carries
    (with a matching fingerprint) did not sign the certificate it is shown."""
    settings.VAULT_PATH = tmp_path / "other-vault"
    other = pki.CertificateAuthority.create()
    text = script.read_text()
    ours_pem = text.split("CA_PEM='")[1].split("'")[0]
    ours_fingerprint = text.split("CA_FINGERPRINT='")[1].split("'")[0]
    script.write_text(
        text.replace(ours_pem, pki.cert_pem(other.certificate).strip()).replace(
            ours_fingerprint, agent_dist.ca_fingerprint(other.certificate)
        )
    )
    result = run(script, "--token", "sde_x", "--name", "web-7")
    assert result.returncode == 5
    assert "the hub's certificate is not signed by the CA this script carries" in result.stderr
    assert not (root / "opt").exists()


def test_an_unreachable_hub_is_named(script: Path, run: Any, hub: str) -> None:
    closed = f"https://127.0.0.1:{free_port()}"
    script.write_text(script.read_text().replace(f"HUB_URL='{hub}'", f"HUB_URL='{closed}'"))
    result = run(script, "--token", "sde_x", "--name", "web-7")
    assert result.returncode == 4
    assert f"{closed}/agent/SHA256SUMS: connection refused" in result.stderr


def test_an_unresolvable_hub_is_a_dns_error(script: Path, run: Any, hub: str) -> None:
    script.write_text(script.read_text().replace(f"HUB_URL='{hub}'", "HUB_URL='https://no-such-hub.invalid'"))
    result = run(script, "--token", "sde_x", "--name", "web-7")
    assert result.returncode == 4
    assert "cannot resolve the hub's name (DNS)" in result.stderr


def test_python_older_than_3_9_is_refused(script: Path, run: Any, root: Path) -> None:
    if not OLD_PYTHON.exists():
        unavailable(f"no Python 3.8 at {OLD_PYTHON}")
    result = run(script, "--token", "sde_x", "--name", "web-7", python=str(OLD_PYTHON))
    assert result.returncode == 3
    assert "is Python 3.8, too old: statusdash-agent needs Python 3.9 to 3.13" in result.stderr
    assert not root.exists()


def test_system_packages_without_them_names_what_to_install(script: Path, run: Any) -> None:
    _, token = new_host()
    result = run(script, "--token", token, "--name", "web-7", "--system-packages")
    assert result.returncode == 3
    assert "apt-get install python3-psutil python3-requests python3-cryptography" in result.stderr


def test_the_unrendered_template_refuses_to_run(run: Any) -> None:
    result = run(BASE_DIR / "agent/install.sh", "--token", "x")
    assert result.returncode == 2
    assert "download it from your hub" in result.stderr


def test_the_add_host_line_run_as_shown_connects_and_the_page_flips(
    hub: str, module_vault: Path, root: Path, wheelhouse: Path, settings: Any
) -> None:
    """An admin adds a host; its line (curl with the pinned key, piped to sh) runs on the
    host; the page's status fragment, waiting until then, says connected."""
    from django.contrib.auth.models import User
    from django.test import Client

    settings.PUBLIC_URL, settings.VAULT_PATH = hub, module_vault
    pki._ca_certificate.cache_clear()
    admin = Client()
    admin.force_login(User.objects.create_user("root", password="pw-123456789", is_staff=True))
    page = admin.post("/add-host/", {"name": "web-8", "tags": "prod", "hours": 1}).content.decode()
    line = page.split('<code id="one-liner">')[1].split("</code>")[0].replace("&#x27;", "'")
    assert "--pinnedpubkey 'sha256//" in line
    status_url = "/add-host/web-8/status/"
    assert "waiting for the first report…" in admin.get(status_url).content.decode()

    env = {"PATH": os.environ["PATH"], "DEST_ROOT": str(root), "PYTHON": BASE_PYTHON}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse))
    # This test runs as the root it would be on a host, so without sudo; dash stands in for sh.
    shell_line = line.replace("| sudo sh -s --", "| dash -s --")
    result = subprocess.run(["sh", "-c", shell_line], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"connected: web-8 reports to {hub} every 10 s" in result.stdout

    assert "connected: CPU " in admin.get(status_url).content.decode()
    assert f"agent {agent_dist.agent_version()}" in admin.get(status_url).content.decode()


@pytest.mark.browser
def test_in_a_browser_the_add_host_page_flips_to_connected_by_itself(hub: str, root: Path, wheelhouse: Path) -> None:
    """An admin adds a host in chromium; the line the page shows runs on the "host" (DEST_ROOT),
    enrolls and reports; the open page, not reloaded, says connected."""
    from django.contrib.auth.models import User
    from playwright.sync_api import expect

    from dashboard.tests.test_browser import chromium

    # The database first: inside Playwright's event loop only HTTP (see test_browser.py).
    User.objects.create_user("admin", password="pw-admin-123456", is_staff=True)
    env = {"PATH": os.environ["PATH"], "DEST_ROOT": str(root), "PYTHON": BASE_PYTHON}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse))
    with chromium() as browser:
        # The hub's certificate is signed by its own CA, which this browser does not trust.
        page = browser.new_context(ignore_https_errors=True).new_page()
        page.goto(f"{hub}/login/?next=/add-host/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "pw-admin-123456")
        page.click("button[type=submit]")
        page.wait_for_url(f"{hub}/add-host/")
        page.fill("#id_name", "web-9")
        page.fill("#id_tags", "prod, web")
        page.get_by_role("button", name="Add host").click()

        line = page.locator("#one-liner")
        expect(line).to_contain_text("--name web-9")
        status = page.locator("#enrollment-status")
        expect(status).to_have_text("waiting for the first report…")
        page.evaluate("window.notReloaded = true")

        # As root on the host, so without sudo; dash stands in for sh.
        shell_line = line.inner_text().replace("| sudo sh -s --", "| dash -s --")
        assert f"{hub}/agent/install.sh" in shell_line and "--token sde_" in shell_line
        result = subprocess.run(["sh", "-c", shell_line], env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert f"connected: web-9 reports to {hub}" in result.stdout

        expect(status).to_contain_text("connected: CPU ", timeout=15_000)
        expect(status).to_contain_text(f"agent {agent_dist.agent_version()}")
        assert page.evaluate("window.notReloaded") is True


def test_the_line_refuses_a_server_without_the_pinned_key(hub: str, module_vault: Path, tmp_path: Path) -> None:
    """The pin holds: a server with another key at the hub's address gets nothing from curl."""
    other_vault = tmp_path / "impostor"
    with override_settings(VAULT_PATH=other_vault):
        pki._ca_certificate.cache_clear()
        ca = pki.CertificateAuthority.create()
        key = pki.generate_key()
        cert = ca.sign(key.public_key(), "127.0.0.1", server=True, days=1, sans=["127.0.0.1"])
        pki.write_file(tmp_path / "impostor.key", pki.key_pem(key), 0o600)
        pki.write_file(tmp_path / "impostor.crt", pki.cert_pem(cert).encode())
    with override_settings(VAULT_PATH=module_vault):
        pin = agent_dist.server_key_pin()
    port = free_port()
    impostor = subprocess.Popen(
        [
            *("openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-quiet", "-www"),
            *("-cert", str(tmp_path / "impostor.crt"), "-key", str(tmp_path / "impostor.key")),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            if subprocess.run(["curl", "-sk", f"https://127.0.0.1:{port}/"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        fetch = ["curl", "-fsSL", "-k", "--pinnedpubkey", str(pin), f"https://127.0.0.1:{port}/agent/install.sh"]
        result = subprocess.run(fetch, capture_output=True, text=True)
        assert result.returncode == 90  # curl: SSL public key does not match pinned public key
        assert result.stdout == ""
    finally:
        impostor.terminate()
        impostor.wait()


def test_a_tarball_that_does_not_match_sha256sums_is_not_installed(
    script: Path, run: Any, root: Path, module_vault: Path, tmp_path: Path, hub: str
) -> None:
    """A server with a valid certificate from the hub's CA, serving a tampered tarball."""
    served = tmp_path / "served" / "agent"
    served.mkdir(parents=True)
    name = agent_dist.tarball_name(agent_dist.agent_version())
    (served / name).write_bytes(b"tampered")
    (served / "SHA256SUMS").write_text(f"{'0' * 64}  {name}\n")
    with override_settings(VAULT_PATH=module_vault):
        ca = pki.CertificateAuthority.load()
    key = pki.generate_key()
    cert = ca.sign(key.public_key(), "127.0.0.1", server=True, days=1, sans=["127.0.0.1"])
    pki.write_file(tmp_path / "mirror.key", pki.key_pem(key), 0o600)
    pki.write_file(tmp_path / "mirror.crt", pki.cert_pem(cert).encode())
    port = free_port()
    mirror = subprocess.Popen(
        [
            *("openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-quiet", "-WWW"),
            *("-cert", str(tmp_path / "mirror.crt"), "-key", str(tmp_path / "mirror.key")),
        ],
        cwd=tmp_path / "served",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            if subprocess.run(["curl", "-sk", f"https://127.0.0.1:{port}/agent/SHA256SUMS"]).returncode == 0:
                break
            time.sleep(0.1)
        script.write_text(script.read_text().replace(f"HUB_URL='{hub}'", f"HUB_URL='https://127.0.0.1:{port}'"))
        result = run(script, "--token", "sde_x", "--name", "web-7")
    finally:
        mirror.terminate()
        mirror.wait()
    assert result.returncode == 6
    assert f"{name} does not match SHA256SUMS" in result.stderr
    assert not (root / "opt").exists()


# --- Updates from the hub: version N installed by install.sh, the hub then serving N+1 ------------


def bumped(version: str) -> str:
    major, minor, patch = (int(part) for part in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


@pytest.fixture
def publish(agent_source: Path) -> Iterator[Any]:
    """Make the hub serve agent N+1 (built from the copy with its __version__ bumped), or a broken N+1."""
    saved = {name: (agent_source / name).read_text() for name in ("__init__.py", "check.py")}

    def publish(broken: bool = False) -> str:
        # A version of its own for the broken build: the hub builds each version's tarball once.
        version = bumped(bumped(agent_dist.agent_version())) if broken else bumped(agent_dist.agent_version())
        init = saved["__init__.py"].replace(
            f'__version__ = "{agent_dist.agent_version()}"', f'__version__ = "{version}"'
        )
        (agent_source / "__init__.py").write_text(init)
        if broken:  # `python -m agent check` fails on it; the daemon never imports check.py
            (agent_source / "check.py").write_text(saved["check.py"] + '\nraise RuntimeError("broken build")\n')
        return version

    yield publish
    for name, text in saved.items():
        (agent_source / name).write_text(text)


@pytest.fixture
def daemon(root: Path, tmp_path: Path) -> Iterator[Any]:
    """The installed agent's daemon, as the unit runs it (from APP, with the venv's python)."""
    processes: list[subprocess.Popen[bytes]] = []
    log = tmp_path / "agent.log"

    def start() -> subprocess.Popen[bytes]:
        app = root / "opt/statusdash-agent"
        command = [
            str(app / "venv/bin/python"),
            "-m",
            "agent",
            "run",
            "--env-file",
            str(root / "etc/statusdash/agent.env"),
        ]
        with log.open("ab") as out:
            process = subprocess.Popen([*command, "--interval", "1"], cwd=app, stdout=out, stderr=out)
        processes.append(process)
        return process

    start.log = log  # type: ignore[attr-defined]
    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def wait_for(condition: Any, what: str, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s; agent log:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def installed_release(root: Path) -> str:
    return os.readlink(root / "opt/statusdash-agent/agent")


@pytest.mark.usefixtures("prepared_venv")
def test_an_agent_marked_for_update_installs_the_hubs_new_version_and_restarts_into_it(
    script: Path, run: Any, root: Path, publish: Any, daemon: Any
) -> None:
    host, token = new_host()
    assert run(script, "--token", token, "--name", "web-7").returncode == 0
    first = installed_release(root)
    host.agent_auto_update = True
    host.save()
    new = publish()
    process = daemon()

    def reports_new_version() -> bool:
        host.refresh_from_db()
        return host.agent_version == new

    wait_for(reports_new_version, f"no report from agent {new}", daemon.log)
    assert process.poll() is None  # re-executed in place: the unit sees no exit
    assert installed_release(root).startswith(f"versions/{new}-")
    versions = sorted(p.name for p in (root / "opt/statusdash-agent/versions").iterdir())
    assert versions == sorted([first.split("/")[1], installed_release(root).split("/")[1]])
    assert f'__version__ = "{new}"' in (root / "opt/statusdash-agent/agent/__init__.py").read_text()


@pytest.mark.usefixtures("prepared_venv")
def test_an_agent_not_marked_for_update_stays_on_its_version(
    script: Path, run: Any, root: Path, publish: Any, daemon: Any
) -> None:
    host, token = new_host()
    assert run(script, "--token", token, "--name", "web-7").returncode == 0
    first = installed_release(root)
    publish()
    daemon()
    seen = MetricSample.objects.filter(host=host).count()
    wait_for(lambda: MetricSample.objects.filter(host=host).count() >= seen + 3, "no reports", daemon.log)
    assert installed_release(root) == first
    host.refresh_from_db()
    assert host.agent_version == agent_dist.agent_version()


@pytest.mark.usefixtures("prepared_venv")
def test_a_new_version_that_fails_its_check_is_rolled_back(
    script: Path, run: Any, root: Path, publish: Any, daemon: Any
) -> None:
    host, token = new_host()
    assert run(script, "--token", token, "--name", "web-7").returncode == 0
    first = installed_release(root)
    host.agent_auto_update = True
    host.save()
    new = publish(broken=True)
    process = daemon()
    wait_for(lambda: "rolled back" in daemon.log.read_text(), "no rollback", daemon.log)
    seen = MetricSample.objects.filter(host=host).count()
    wait_for(lambda: MetricSample.objects.filter(host=host).count() >= seen + 2, "no reports after", daemon.log)
    assert process.poll() is None
    assert installed_release(root) == first
    assert [p.name for p in (root / "opt/statusdash-agent/versions").iterdir()] == [first.split("/")[1]]
    log = daemon.log.read_text()
    assert f"agent {new} failed `python -m agent check`; rolled back to {agent_dist.agent_version()}" in log
    assert "broken build" in log
    assert log.count("rolled back") == 1  # not tried again at every report
    host.refresh_from_db()
    assert host.agent_version == agent_dist.agent_version()
