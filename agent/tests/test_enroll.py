"""enroll against a local HTTPS fake of the hub's /api/enroll, signing with a real test CA."""

import datetime
import hashlib
import json
import ssl
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from agent.cli import main


class EnrollHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        hub = self.server.hub
        data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        token = data.get("token")
        if token in hub.used:
            return self.answer(403, {"detail": "Enrollment token already used"})
        if token not in hub.tokens:
            return self.answer(401, {"detail": "Unknown or expired enrollment token"})
        csr = x509.load_pem_x509_csr(data["csr"].encode())
        cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        if cn != hub.tokens[token]:
            return self.answer(422, {"detail": f"CSR common name {cn!r} does not match the token's host"})
        hub.used.add(token)
        ca_key, ca_cert, _ = hub.ca
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca_cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=90))
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.answer(
            201,
            {"host": cn, "certificate": cert.public_bytes(pem).decode(), "ca": ca_cert.public_bytes(pem).decode()},
        )


@pytest.fixture
def hub(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), EnrollHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.hub = server
    server.ca = pki.authority
    server.tokens = {"good-token": "web-1", "other-token": "db-1"}
    server.used = set()
    server.url = f"https://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def enroll(hub, out, *extra):
    return main(["enroll", "--server", hub.url, "--out", str(out), *extra])


def test_enroll_writes_a_key_and_the_signed_certificate(hub, pki, tmp_path, capsys):
    out = tmp_path / "certs"
    assert enroll(hub, out, "--token", "good-token", "--name", "web-1", "--ca", pki.ca_path) == 0
    key = serialization.load_pem_private_key((out / "agent.key").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((out / "agent.crt").read_bytes())
    assert cert.public_key() == key.public_key()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "web-1"
    assert (out / "ca.crt").read_bytes() == Path(pki.ca_path).read_bytes()
    assert stat.S_IMODE((out / "agent.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "agent.crt").stat().st_mode) == 0o644
    assert f"TLS_KEY={out}/agent.key" in capsys.readouterr().out


@pytest.mark.parametrize(
    "token, name, message",
    [
        ("wrong", "web-1", "HTTP 401: Unknown or expired enrollment token"),
        ("good-token", "not-web-1", "HTTP 422: CSR common name 'not-web-1' does not match"),
    ],
)
def test_refused_enrollment_prints_the_reason_and_writes_nothing(hub, pki, tmp_path, capsys, token, name, message):
    out = tmp_path / "certs"
    assert enroll(hub, out, "--token", token, "--name", name, "--ca", pki.ca_path) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_token_works_once(hub, pki, tmp_path, capsys):
    assert enroll(hub, tmp_path / "a", "--token", "good-token", "--name", "web-1", "--ca", pki.ca_path) == 0
    assert enroll(hub, tmp_path / "b", "--token", "good-token", "--name", "web-1", "--ca", pki.ca_path) == 1
    assert "HTTP 403: Enrollment token already used" in capsys.readouterr().err


def test_untrusted_hub_is_refused_without_ca_or_insecure_flag(hub, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert enroll(hub, tmp_path / "c", "--token", "good-token", "--name", "web-1") == 1
    assert "pass its CA with --ca FILE, or --insecure-first-contact" in capsys.readouterr().err
    assert hub.used == set()


def test_insecure_first_contact_prints_the_ca_fingerprint(hub, pki, tmp_path, capsys):
    assert enroll(hub, tmp_path / "d", "--token", "other-token", "--name", "db-1", "--insecure-first-contact") == 0
    der = pki.authority[1].public_bytes(serialization.Encoding.DER)
    expected = hashlib.sha256(der).hexdigest().upper()
    out = capsys.readouterr().out
    fingerprint = out.split("CA SHA-256 fingerprint: ")[1].split()[0]
    assert fingerprint.replace(":", "") == expected


def test_hub_not_signed_by_the_given_ca_is_refused(hub, pki, tmp_path, capsys):
    _, _, other = pki.ca("enroll-other-ca")
    code = main(
        [
            "enroll",
            "--server",
            hub.url,
            "--out",
            str(tmp_path / "e"),
            "--token",
            "good-token",
            "--name",
            "web-1",
            "--ca",
            other,
        ]
    )
    assert code == 1
    assert "cannot verify the hub" in capsys.readouterr().err
