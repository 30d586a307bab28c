"""Updates from the hub: install the offered version beside this one, swap, check, restart.

The hub offers its agent in a report's answer (`"update": {"version", "url", "sha256"}`) to
hosts an admin marked, or to all with AGENT_AUTO_UPDATE. The layout is install.sh's:

    APP/versions/<release>/agent/   one directory per installed version
    APP/agent -> versions/<release>/agent
    APP/venv/

The tarball comes over the agent's own mutual-TLS session and must match the SHA-256 that
came, authenticated, in the answer. It is unpacked into a new release directory, the
symlink is replaced in one rename, and `python -m agent check` runs on the new version:
if it fails the symlink goes back and the release is deleted; if it passes the daemon
re-executes itself (same process, so systemd sees no exit). A version that failed is not
tried again until the agent restarts. Packages are not installed here: a version whose
requirements differ from the running one's is refused (install.sh --upgrade installs them).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

import agent
from agent import __version__
from agent.config import Config, as_environ

log = logging.getLogger(__name__)

VERSION = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9}){0,3}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_TARBALL_BYTES = 10 * 1024 * 1024
CHECK_TIMEOUT = 120
REQUIREMENTS = ("requirements.txt", "requirements-enroll.txt")


class Offer(NamedTuple):
    version: str
    url: str
    sha256: str


class UpdateFailed(Exception):
    """This version cannot be installed; the message says why."""


def parse_offer(value: object) -> Offer | None:
    """The hub's offer if well formed, else None (an odd answer never stops the reporting)."""
    if not isinstance(value, dict):
        return None
    version, url, sha256 = value.get("version"), value.get("url"), value.get("sha256")
    if not (isinstance(version, str) and isinstance(url, str) and isinstance(sha256, str)):
        return None
    if not VERSION.match(version) or not SHA256.match(sha256):
        return None
    if url != f"/agent/statusdash-agent-{version}.tar.gz":
        return None
    return Offer(version, url, sha256)


def newer(version: str, than: str) -> bool:
    try:
        return tuple(int(p) for p in version.split(".")) > tuple(int(p) for p in than.split("."))
    except ValueError:
        return False


def installed_app_dir() -> str | None:
    """APP when this agent runs from install.sh's layout (APP/agent a symlink into APP/versions)."""
    package = os.path.dirname(os.path.abspath(agent.__file__))
    app = os.path.dirname(package)
    if not os.path.islink(package) or not os.path.isdir(os.path.join(app, "versions")):
        return None
    return app


class Updater:
    def __init__(
        self, config: Config, app_dir: str, fetch: Callable[[str, int], bytes], python: str = sys.executable
    ) -> None:
        self.config = config
        self.app = app_dir
        self.fetch = fetch  # Transport.fetch: GET a path on the hub over the agent's session
        self.python = python
        self.failed: set[str] = set()

    @property
    def link(self) -> str:
        return os.path.join(self.app, "agent")

    def wanted(self, offer: Offer) -> bool:
        return newer(offer.version, __version__) and offer.version not in self.failed

    def install(self, offer: Offer) -> bool:
        """True when the new version is in place and checked: the caller restarts into it."""
        try:
            release = self._unpack(offer, self._download(offer))
        except UpdateFailed as exc:
            self.failed.add(offer.version)
            log.error("update to agent %s refused: %s", offer.version, exc)
            return False
        previous = os.readlink(self.link)
        _swap(self.link, f"versions/{release}/agent")
        passed, output = self._check()
        if not passed:
            _swap(self.link, previous)
            shutil.rmtree(os.path.join(self.app, "versions", release), ignore_errors=True)
            self.failed.add(offer.version)
            log.error(
                "agent %s failed `python -m agent check`; rolled back to %s:\n%s", offer.version, __version__, output
            )
            return False
        self._prune(keep={release, _release_of(previous)})
        log.info("updated the agent from %s to %s; restarting into it", __version__, offer.version)
        return True

    def _download(self, offer: Offer) -> bytes:
        try:
            data = self.fetch(offer.url, MAX_TARBALL_BYTES)
        except OSError as exc:
            raise UpdateFailed(f"cannot download {offer.url}: {exc}") from None
        got = hashlib.sha256(data).hexdigest()
        if got != offer.sha256:
            raise UpdateFailed(f"{offer.url} does not match the hub's SHA-256 (got {got}, expected {offer.sha256})")
        return data

    def _unpack(self, offer: Offer, data: bytes) -> str:
        top = f"statusdash-agent-{offer.version}/"
        release = f"{offer.version}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
        stage = os.path.join(self.app, "versions", f".stage-{release}")
        shutil.rmtree(stage, ignore_errors=True)
        # Imported only here, for memory: tarfile brings bz2 and lzma with their C libraries
        # (0.4 MB of RSS), and an agent unpacks an update a few times a year.
        import tarfile

        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for member in tar.getmembers():
                    name = member.name
                    parts = name[len(top) :].split("/") if name.startswith(top) else []
                    if not parts or parts[0] != "agent" or ".." in parts or "" in parts[1:]:
                        if name.rstrip("/") + "/" == top:
                            continue
                        raise UpdateFailed(f"the tarball holds {name!r}, outside the agent package")
                    target = os.path.join(stage, *parts)
                    if member.isdir():
                        os.makedirs(target, mode=0o755, exist_ok=True)
                    elif member.isfile():
                        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
                        source = tar.extractfile(member)
                        with open(target, "wb") as f:
                            f.write(source.read() if source else b"")
                        os.chmod(target, 0o755 if name.endswith(".sh") else 0o644)
                    else:
                        raise UpdateFailed(f"the tarball holds {name!r}, not a file or directory")
        except (tarfile.TarError, OSError, EOFError) as exc:
            shutil.rmtree(stage, ignore_errors=True)
            raise UpdateFailed(f"cannot unpack the tarball: {exc}") from None
        except UpdateFailed:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        unpacked = os.path.join(stage, "agent")
        problem = self._problem(unpacked, offer.version)
        if problem:
            shutil.rmtree(stage, ignore_errors=True)
            raise UpdateFailed(problem)
        os.rename(stage, os.path.join(self.app, "versions", release))
        return release

    def _problem(self, unpacked: str, version: str) -> str:
        try:
            with open(os.path.join(unpacked, "__init__.py"), encoding="utf-8") as f:
                declared = re.search(r'^__version__ = "([^"]*)"$', f.read(), re.MULTILINE)
        except OSError:
            return "the tarball has no agent/__init__.py"
        if declared is None or declared.group(1) != version:
            return f"the tarball's agent is not version {version}"
        for name in REQUIREMENTS:
            if _read(os.path.join(unpacked, name)) != _read(os.path.join(self.link, name)):
                return f"it needs other packages ({name} changed); run install.sh --upgrade on the host"
        return ""

    def _check(self) -> tuple[bool, str]:
        """`python -m agent check` on the version the symlink now names, with this agent's settings."""
        env = {**os.environ, **as_environ(self.config)}
        try:
            done = subprocess.run(
                [self.python, "-m", "agent", "check"],
                cwd=self.app,
                env=env,
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, str(exc)
        return done.returncode == 0, (done.stdout + done.stderr)[-3000:]

    def _prune(self, keep: set[str]) -> None:
        """Keep the new release and the one it replaced (for a rollback by hand)."""
        versions = os.path.join(self.app, "versions")
        for name in os.listdir(versions):
            if name not in keep:
                shutil.rmtree(os.path.join(versions, name), ignore_errors=True)


def _swap(link: str, target: str) -> None:
    """Point `link` at `target` in one rename: the agent is always one whole version or the other."""
    temporary = f"{link}.swap"
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(target, temporary)
    os.replace(temporary, link)


def _release_of(target: str) -> str:
    return target.split("/")[1] if target.startswith("versions/") else ""


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def restart() -> None:
    """Re-execute this daemon with its arguments, from APP: the symlink now names the new version."""
    app = installed_app_dir()
    if app:
        os.chdir(app)
    os.execv(sys.executable, [sys.executable, "-m", "agent", *sys.argv[1:]])  # noqa: S606 (our own argv)
