"""agent/renew.py: when the agent renews its certificate, and how the new pair replaces the old."""

import json
import shutil
import stat

import pytest
import requests

from agent.config import Config
from agent.renew import RETRY_SECONDS, Renewer, finish_replacing, replace_pair
from agent.transport import classify

DAY = 86400.0


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class HubDown:
    """The hub's renew endpoint, unreachable: counts the attempts."""

    def __init__(self) -> None:
        self.attempts = 0

    def __call__(self, path: str, payload: dict) -> requests.Response:
        self.attempts += 1
        raise requests.ConnectionError("connection refused")


@pytest.fixture
def expiring(pki, tmp_path):
    """A client certificate with 10 days left, in a directory the agent may write."""
    cert, key = pki.issue(pki.authority, "renew-host", days=11)
    directory = tmp_path / "certs"
    directory.mkdir()
    shutil.copy(cert, directory / "agent.crt")
    shutil.copy(key, directory / "agent.key")
    return Config(tls_cert=str(directory / "agent.crt"), tls_key=str(directory / "agent.key"), tls_ca=pki.ca_path)


def renewer(config: Config, post, clock: Clock) -> Renewer:
    return Renewer(config, post, reconnect=lambda: None, clock=clock)


def test_a_hub_that_does_not_announce_renewal_is_never_asked(expiring):
    hub = HubDown()
    assert not renewer(expiring, hub, Clock()).maybe_renew(None)
    assert hub.attempts == 0


def test_a_certificate_outside_the_hubs_window_is_not_renewed(expiring):
    hub = HubDown()
    assert not renewer(expiring, hub, Clock()).maybe_renew(7)  # 10 days left
    assert hub.attempts == 0


def test_a_failed_renewal_is_tried_again_an_hour_later_not_at_the_next_report(expiring, caplog):
    hub, clock = HubDown(), Clock()
    agent = renewer(expiring, hub, clock)
    assert not agent.maybe_renew(14)
    assert not agent.maybe_renew(14)
    assert hub.attempts == 1
    assert "trying again in an hour" in caplog.text
    clock.now += RETRY_SECONDS
    agent.maybe_renew(14)
    assert hub.attempts == 2


def test_a_host_that_cannot_write_the_pair_together_never_asks_and_says_so_once(expiring, tmp_path, caplog):
    elsewhere = tmp_path / "keys"
    elsewhere.mkdir()
    shutil.copy(expiring.tls_key, elsewhere / "agent.key")
    config = expiring._replace(tls_key=str(elsewhere / "agent.key"))
    hub, clock = HubDown(), Clock()
    agent = renewer(config, hub, clock)
    agent.maybe_renew(14)
    clock.now += 10 * RETRY_SECONDS
    agent.maybe_renew(14)
    assert hub.attempts == 0
    assert caplog.text.count("cannot be renewed here: TLS_CERT and TLS_KEY are in different directories") == 1


def test_the_new_pair_replaces_the_old_with_an_owner_only_key(tmp_path):
    cert, key = tmp_path / "agent.crt", tmp_path / "agent.key"
    cert.write_bytes(b"old cert")
    key.write_bytes(b"old key")
    replace_pair(str(cert), str(key), b"new cert", b"new key")
    assert (cert.read_bytes(), key.read_bytes()) == (b"new cert", b"new key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.crt", "agent.key"]


def test_a_crash_after_the_new_key_was_in_place_is_completed_at_the_next_start(tmp_path):
    cert, key = tmp_path / "agent.crt", tmp_path / "agent.key"
    cert.write_bytes(b"old cert")
    key.write_bytes(b"new key")
    (tmp_path / "agent.crt.new").write_bytes(b"new cert")
    finish_replacing(str(cert), str(key))
    assert (cert.read_bytes(), key.read_bytes()) == (b"new cert", b"new key")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.crt", "agent.key"]


def test_a_crash_before_the_new_key_was_in_place_keeps_the_old_pair(tmp_path):
    cert, key = tmp_path / "agent.crt", tmp_path / "agent.key"
    cert.write_bytes(b"old cert")
    key.write_bytes(b"old key")
    (tmp_path / "agent.key.new").write_bytes(b"new key")
    (tmp_path / "agent.crt.new").write_bytes(b"new cert")
    finish_replacing(str(cert), str(key))
    assert (cert.read_bytes(), key.read_bytes()) == (b"old cert", b"old key")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.crt", "agent.key"]


def answer(payload) -> requests.Response:
    response = requests.Response()
    response.status_code = 202
    response._content = json.dumps(payload).encode()
    return response


@pytest.mark.parametrize(("value", "read"), [(14, 14), (None, None), ("14", None), (True, None), (0, None)])
def test_the_hubs_renewal_window_is_read_from_the_report_answer(value, read):
    body = {"accepted": 1, "duplicates": 0}
    if value is not None:
        body["renew_within_days"] = value
    assert classify(answer(body)).renew_within_days == read
