"""What the hub serves to install agents: the tarball, its checksums and install.sh.

The tarball is built from `agent/` once per agent version into DATA_DIR/agent-dist, and
reproducibly (sorted names, fixed times and owners, gzip without a time stamp), so two
hubs at one version serve the same bytes and SHA256SUMS can be compared between them.
install.sh is `agent/install.sh` with this hub's URL, CA, CA fingerprint, agent version
and report interval filled in: public values only, nothing secret.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import io
import os
import re
import tarfile
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.conf import settings

from hosts import pki
from hosts.models import Host

# What an installed agent needs; tests, the ssh deploy script and per-host env files stay out.
PACKAGE_FILES = ("*.py", "requirements.txt", "requirements-enroll.txt", "README.md", "install.sh")
UNIT_FILE = "deploy/host-agent.service"
VERSION_PATTERN = re.compile(r'^__version__ = "([0-9A-Za-z.+-]{1,40})"$', re.MULTILINE)
# Only these may go into the script's single-quoted assignments.
SAFE_URL = re.compile(r"^https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?\Z")


def source_dir() -> Path:
    return Path(settings.AGENT_SOURCE_DIR)


def agent_version() -> str:
    text = (source_dir() / "__init__.py").read_text(encoding="utf-8")
    match = VERSION_PATTERN.search(text)
    if match is None:
        raise RuntimeError("agent/__init__.py has no __version__")
    return match.group(1)


def tarball_name(version: str) -> str:
    return f"statusdash-agent-{version}.tar.gz"


def dist_dir() -> Path:
    return Path(settings.DATA_DIR) / "agent-dist"


def package_members() -> list[tuple[str, Path]]:
    """(name in the tarball, file) for every shipped file, in a stable order."""
    base = source_dir()
    files = {path for pattern in PACKAGE_FILES for path in base.glob(pattern)} | {base / UNIT_FILE}
    return sorted((f"agent/{path.relative_to(base).as_posix()}", path) for path in files)


def build_tarball(version: str) -> bytes:
    """The agent as a .tar.gz whose bytes depend on the files' contents and names only."""
    top = f"statusdash-agent-{version}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = sorted({f"{top}/{Path(name).parent.as_posix()}" for name, _ in package_members()} | {top})
        for directory in directories:
            tar.addfile(_info(directory, tarfile.DIRTYPE, 0o755, 0))
        for name, path in package_members():
            data = path.read_bytes()
            mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(_info(f"{top}/{name}", tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as compressed:
        compressed.write(raw.getvalue())
    return packed.getvalue()


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size = kind, mode, size
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    return info


def tarball_path() -> Path:
    """The current version's tarball under DATA_DIR, built on first use."""
    version = agent_version()
    path = dist_dir() / tarball_name(version)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Two processes building at once write the same bytes; the rename makes either one whole.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".build-")
        with os.fdopen(fd, "wb") as f:
            f.write(build_tarball(version))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return path


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def tarball_sha256() -> str:
    """SHA-256 of the current tarball, read once per file (every report may ask)."""
    path = tarball_path()
    stat = path.stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def update_offer(host: Host, reported_version: str) -> dict[str, str] | None:
    """What the report's answer tells an agent to update to, or None.

    The agent fetches the tarball over its own mutual-TLS session and checks it against
    this SHA-256, which reached it over the same authenticated connection.
    """
    version = agent_version()
    if not host.wants_agent(version, reported_version):
        return None
    return {"version": version, "url": f"/agent/{tarball_name(version)}", "sha256": tarball_sha256()}


def ca_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the CA certificate, as `openssl x509 -fingerprint -sha256` (and `agent enroll`) print it."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def server_key_pin() -> str | None:
    """curl's `--pinnedpubkey` value for the hub's own server certificate, or None when the vault
    has none (the hub is then behind a proxy with a certificate of its own, publicly trusted)."""
    cert_path, _ = pki.server_paths()
    try:
        certificate = pki.load_certificate(cert_path.read_bytes())
    except (OSError, pki.CertificateProblem):
        return None
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256//" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def render_install_script() -> str:
    """agent/install.sh for this hub. Raises pki.NoCertificateAuthority without a CA."""
    url = settings.PUBLIC_URL
    if not SAFE_URL.match(url):
        raise ValueError(f"PUBLIC_URL {url!r} has characters install.sh cannot carry")
    ca = pki.trusted_ca_certificate()
    values = {
        "HUB_URL": url,
        "CA_FINGERPRINT": ca_fingerprint(ca),
        "AGENT_VERSION": agent_version(),
        "REPORT_INTERVAL": str(settings.REPORT_INTERVAL),
        "CA_PEM": pki.cert_pem(ca).strip(),
    }
    script = (source_dir() / "install.sh").read_text(encoding="utf-8")
    for key, value in values.items():
        line = f"{key}='@{key}@'"
        if "'" in value or line not in script:
            raise RuntimeError(f"install.sh: cannot fill {key}")
        script = script.replace(line, f"{key}='{value}'", 1)
    return script


def sha256sums(install_script: str) -> str:
    """SHA256SUMS in the format `sha256sum -c` reads."""
    tarball = tarball_path()
    lines = [
        (hashlib.sha256(tarball.read_bytes()).hexdigest(), tarball.name),
        (hashlib.sha256(install_script.encode()).hexdigest(), "install.sh"),
    ]
    return "".join(f"{digest}  {name}\n" for digest, name in lines)
