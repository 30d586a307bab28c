"""A real OpenID Connect provider on 127.0.0.1 for the single sign-on tests (oidc_provider.mjs)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from statusdash.tests.skips import require_oidc_provider
from statusdash.tests.support import free_port, stop, tail

SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
CLIENT_ID = "statusdash"
CLIENT_SECRET = "statusdash-test-secret"  # the test provider's, in oidc_provider.mjs
ROLE_MAP = "ops:operator,admins:admin,viewers:viewer"


@contextlib.contextmanager
def oidc_provider(hub_url: str) -> Iterator[str]:
    """Start the provider for a hub at `hub_url`; yields its issuer URL."""
    node, module = require_oidc_provider()
    port = free_port()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [node, str(SCRIPT), str(port), f"{hub_url}/oidc/callback/"],
            env={"OIDC_PROVIDER_MODULE": str(module), "PATH": "/usr/bin:/bin"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        issuer = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"oidc-provider did not start:\n{tail(output)}")
                try:
                    if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            yield issuer
        finally:
            stop(process)


def hub_sso_env(issuer: str, hub_url: str, **extra: str) -> dict[str, str]:
    """The hub's settings for this provider."""
    return {
        "PUBLIC_URL": hub_url,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_ROLE_CLAIM": "groups",
        "OIDC_ROLE_MAP": ROLE_MAP,
        **extra,
    }
