"""/agent/install.sh, the agent tarball and SHA256SUMS: what the hub serves to new hosts."""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes
from django.test import Client

from hosts import agent_dist, pki

pytestmark = pytest.mark.django_db


@pytest.fixture
def hub(ca: pki.CertificateAuthority, settings: Any, tmp_path: Path) -> pki.CertificateAuthority:
    settings.PUBLIC_URL = "https://status.example.internal:5000"
    settings.DATA_DIR = tmp_path / "data"
    return ca


def tarball_url() -> str:
    return f"/agent/{agent_dist.tarball_name(agent_dist.agent_version())}"


def test_install_script_carries_this_hubs_url_and_ca_fingerprint(hub: pki.CertificateAuthority, client: Client) -> None:
    response = client.get("/agent/install.sh")
    assert response.status_code == 200
    script = response.content.decode()
    fingerprint = hub.certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    assert "HUB_URL='https://status.example.internal:5000'\n" in script
    assert f"CA_FINGERPRINT='{fingerprint}'\n" in script
    assert pki.cert_pem(hub.certificate).strip() in script
    assert f"AGENT_VERSION='{agent_dist.agent_version()}'\n" in script
    assert "@HUB_URL@'" not in script


def test_nothing_served_holds_a_secret(hub: pki.CertificateAuthority, client: Client, settings: Any) -> None:
    bodies = [client.get(url).getvalue() for url in ("/agent/install.sh", "/agent/SHA256SUMS", tarball_url())]
    ca_key = pki.ca_paths()[1].read_bytes()
    for body in bodies:
        assert b"PRIVATE KEY" not in body
        assert ca_key not in body
        assert settings.SECRET_KEY.encode() not in body
    with tarfile.open(fileobj=io.BytesIO(bodies[2])) as tar:
        names = tar.getnames()
    assert not [n for n in names if "/tests" in n or n.endswith((".env", ".key", ".crt", ".pem"))]


def test_tarball_is_the_agent_package_with_its_unit(hub: pki.CertificateAuthority, client: Client) -> None:
    body = client.get(tarball_url()).getvalue()
    top = f"statusdash-agent-{agent_dist.agent_version()}"
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = set(tar.getnames())
    for name in ("agent/__init__.py", "agent/cli.py", "agent/enroll.py", "agent/deploy/host-agent.service"):
        assert f"{top}/{name}" in names


def test_tarball_is_reproducible(hub: pki.CertificateAuthority) -> None:
    first = agent_dist.build_tarball("1.2.3")
    with time_machine.travel(timedelta(days=3)):
        assert agent_dist.build_tarball("1.2.3") == first


def test_tarball_is_built_once_per_version_under_data_dir(hub: pki.CertificateAuthority, client: Client) -> None:
    client.get(tarball_url()).getvalue()
    path = agent_dist.dist_dir() / agent_dist.tarball_name(agent_dist.agent_version())
    assert path.is_file()
    path.write_bytes(b"cached")  # a rebuild would overwrite this
    assert client.get(tarball_url()).getvalue() == b"cached"


def test_sha256sums_lists_the_tarball_and_install_script(hub: pki.CertificateAuthority, client: Client) -> None:
    sums = client.get("/agent/SHA256SUMS").content.decode()
    tarball = client.get(tarball_url()).getvalue()
    script = client.get("/agent/install.sh").content
    name = agent_dist.tarball_name(agent_dist.agent_version())
    assert sums == (
        f"{hashlib.sha256(tarball).hexdigest()}  {name}\n{hashlib.sha256(script).hexdigest()}  install.sh\n"
    )


def test_another_version_is_a_404_naming_the_served_one(hub: pki.CertificateAuthority, client: Client) -> None:
    response = client.get("/agent/statusdash-agent-0.0.1.tar.gz")
    assert response.status_code == 404
    assert agent_dist.tarball_name(agent_dist.agent_version()) in response.json()["detail"]


def test_without_a_ca_install_script_is_a_503_that_says_so(vault_dir: Path, db: Any, client: Client) -> None:
    for url in ("/agent/install.sh", "/agent/SHA256SUMS"):
        response = client.get(url)
        assert response.status_code == 503
        assert "certificate authority" in response.json()["detail"]


def test_downloads_are_rate_limited_per_address(hub: pki.CertificateAuthority, client: Client, settings: Any) -> None:
    settings.AGENT_DOWNLOADS_PER_MINUTE = 3
    statuses = [client.get("/agent/SHA256SUMS").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/agent/install.sh")
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert "3 agent downloads a minute" in refused.json()["detail"]
    assert client.get("/agent/install.sh", REMOTE_ADDR="10.0.0.9").status_code == 200


def test_a_public_url_that_cannot_be_quoted_is_refused(hub: pki.CertificateAuthority, settings: Any) -> None:
    settings.PUBLIC_URL = "https://x'$(reboot)"
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        agent_dist.render_install_script()


def test_post_is_not_allowed(hub: pki.CertificateAuthority, client: Client) -> None:
    assert client.post("/agent/install.sh").status_code == 405
