"""Helpers shared by tests and benchmarks: realistic reports and real servers on free ports."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.hashers import PBKDF2PasswordHasher

BASE_DIR = Path(__file__).resolve().parent.parent.parent


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Tests' password hashes: Django's own algorithm with fewer rounds (a million cost ~0.4 s of
    CPU per user made or logged in). The count is kept in each hash, so a live hub under test,
    with the real hasher, still checks these passwords (and upgrades them at log-in)."""

    iterations = 1000


def user_with_role(name: str, role: str | None, password: str = "pw-long-enough-123", **fields: Any) -> Any:  # noqa: S107 (a test user's)
    """A user with `role` (accounts.roles), or none with None: the actors of role tests."""
    from django.contrib.auth import get_user_model

    from accounts.roles import set_role

    user = get_user_model().objects.create_user(name, password=password, **fields)
    if role is not None:
        set_role(user, role)
    return user


def sample_report(
    collected_at: datetime | None = None, *, host: str | None = None, seed: int | None = None
) -> dict[str, Any]:
    """A report shaped like the agent's, with plausible values."""
    rnd = random.Random(seed)
    when = collected_at or datetime.now(UTC)
    cores = [round(rnd.uniform(0, 100), 1) for _ in range(4)]
    total_mem = 16 * 1024**3
    used_mem = int(total_mem * rnd.uniform(0.2, 0.8))
    report: dict[str, Any] = {
        "collected_at": when.isoformat(),
        "cpu": {"percent": round(sum(cores) / 4, 1), "per_core": cores, "load": [0.5, 0.4, 0.3], "count": 4},
        "memory": {
            "total": total_mem,
            "used": used_mem,
            "available": total_mem - used_mem,
            "percent": round(used_mem / total_mem * 100, 1),
        },
        "swap": {"total": 2 * 1024**3, "used": 0, "percent": 0.0},
        "disks": [
            {
                "mount": "/",
                "device": "/dev/vda1",
                "fstype": "ext4",
                "total": 100 * 1024**3,
                "used": 40 * 1024**3,
                "percent": 40.0,
            },
            {
                "mount": "/data",
                "device": "/dev/vdb1",
                "fstype": "xfs",
                "total": 500 * 1024**3,
                "used": int(500 * 1024**3 * 0.72),
                "percent": 72.0,
            },
        ],
        "disk_io": {"read_bytes_per_s": rnd.uniform(0, 1e6), "write_bytes_per_s": rnd.uniform(0, 1e6)},
        "network": [
            {"interface": "eth0", "rx_bytes_per_s": rnd.uniform(0, 1e6), "tx_bytes_per_s": rnd.uniform(0, 1e5)}
        ],
        "uptime_seconds": 86400.0,
        "process_count": 187,
        "temperatures": [{"sensor": "coretemp Package id 0", "celsius": 48.0}],
        "system": {
            "os": "Debian GNU/Linux 12 (bookworm)",
            "kernel": "6.1.0-26-amd64",
            "arch": "x86_64",
            "hostname": host or "test-host",
            "agent_version": "1.0.0",
            "boot_time": (when - timedelta(days=1)).isoformat(),
        },
    }
    if host is not None:
        report["host"] = host
    return report


def assert_stored_as_sent(sample: Any, report: dict[str, Any]) -> None:
    """A stored MetricSample holds what a (well-formed) report said: its time, numbers and detail."""
    assert sample.collected_at == datetime.fromisoformat(report["collected_at"])
    assert sample.cpu_percent == report["cpu"]["percent"]
    assert [sample.load_1, sample.load_5, sample.load_15] == report["cpu"]["load"]
    assert sample.memory_percent == report["memory"]["percent"]
    assert sample.memory_used == report["memory"]["used"]
    assert sample.swap_percent == report["swap"]["percent"]
    assert sample.disk_percent == max(disk["percent"] for disk in report["disks"])
    assert sample.net_rx_bps == sum(nic["rx_bytes_per_s"] for nic in report["network"])
    assert sample.disk_read_bps == report["disk_io"]["read_bytes_per_s"]
    assert sample.process_count == report["process_count"]
    assert sample.uptime_seconds == report["uptime_seconds"]
    assert sample.detail == {
        "per_core": report["cpu"]["per_core"],
        "memory": report["memory"],
        "swap": report["swap"],
        "disks": report["disks"],
        "network": report["network"],
        "temperatures": report["temperatures"],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(base_url: str, seconds: float = 30, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{base_url} did not become healthy in {seconds} s")


class ServerURL(str):
    """A server's base URL that also knows the server's process id."""

    pid: int


@contextlib.contextmanager
def daphne_server(
    env: dict[str, str] | None = None, extra_args: list[str] | None = None, port: int | None = None
) -> Iterator[ServerURL]:
    """A real Daphne (as the hub runs it: statusdash.lib.server) on a free loopback port; yields its base URL (with .pid)."""
    port = port or free_port()
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")
    # stderr goes to a file, not a pipe nobody reads: a pipe that fills (64 KiB of warnings)
    # would block the server mid-request.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "statusdash.lib.server",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                *(extra_args or []),
                "statusdash.asgi:application",
            ],
            cwd=BASE_DIR,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
        base_url = ServerURL(f"http://127.0.0.1:{port}")
        base_url.pid = process.pid
        try:
            try:
                wait_until_healthy(base_url, process=process)
            except RuntimeError:
                process.kill()
                process.wait(timeout=5)
                raise RuntimeError(f"daphne failed to start:\n{tail(errors)}") from None
            yield base_url
        finally:
            stop(process)


def tail(stream: IO[bytes], size: int = 3000) -> str:
    """The last `size` bytes a process wrote to `stream` (a file it was given)."""
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - size))
    return stream.read().decode(errors="replace")


def stop(process: subprocess.Popen[Any], seconds: float = 15) -> None:
    """Ask a server or worker to stop; kill it if it has not after `seconds`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def celery_worker(env: dict[str, str] | None = None, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker for statusdash (solo pool, stderr piped); extra `args` e.g. "-Q", "a,b"."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "statusdash", "worker", "--pool=solo", "--loglevel=WARNING", *args],
        cwd=BASE_DIR,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        stop(process)


def dashboard_socket(base_url: str, session_id: str, cafile: str | None = None, path: str = "/ws/dashboard/") -> Any:
    """A logged-in browser's dashboard WebSocket (a `websockets` sync connection): its
    session cookie and the page's own Origin, over TLS when `base_url` is https. `path`:
    another page's socket (`/ws/hosts/web-1/`)."""
    import ssl
    from urllib.parse import urlsplit

    from websockets.sync.client import connect

    secure = base_url.startswith("https://")
    return connect(
        f"{'wss' if secure else 'ws'}://{urlsplit(base_url).netloc}{path}",
        ssl=ssl.create_default_context(cafile=cafile) if secure else None,
        additional_headers={"Cookie": f"sessionid={session_id}", "Origin": base_url},
        # The first socket a fresh hub serves opens its channel layer and database pool:
        # on a loaded 2-core CI machine that took over 10 s once.
        open_timeout=30,
    )
