"""Daphne serving TLS that asks for client certificates and shows them to the app.

Daphne's stock `ssl:` endpoint neither verifies client certificates nor exposes
them. This keeps Daphne as it is (4.2.3, pinned) and changes two things, both
outside its request handling: the listening endpoint is built here with a
pyOpenSSL context that asks for a client certificate, and `create_application`
(through which every HTTP/1.1, HTTP/2 and WebSocket connection reaches the ASGI
app) adds the ASGI TLS extension `scope["extensions"]["tls"]`.

Modes: "optional" lets browsers without a certificate use the same port; a
certificate that fails OpenSSL's check is still let through with
`client_cert_error` set, so hosts/identity.py can refuse it with a reason instead
of a bare handshake failure. "required" fails the handshake without a valid one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto
from twisted.internet import ssl
from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.web import http

from statusdash.lib.server import LimitedServer

CLIENT_CERT_MODES = ("optional", "required")
# Where the verify callback leaves OpenSSL's first complaint about the peer, per connection.
VERIFY_ERROR_ATTRIBUTE = "statusdash_verify_error"


@dataclass(frozen=True)
class TLSFiles:
    certificate: Path
    key: Path
    ca: Path


class MutualTLSContextFactory(ssl.ContextFactory):
    """A server context asking for client certificates signed by our CA."""

    def __init__(self, files: TLSFiles, mode: str = "optional") -> None:
        if mode not in CLIENT_CERT_MODES:
            raise ValueError(f"client certificate mode must be one of {CLIENT_CERT_MODES}, not {mode!r}")
        self.mode = mode
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        context.use_certificate_chain_file(str(files.certificate))
        context.use_privatekey_file(str(files.key))
        context.check_privatekey()
        context.load_verify_locations(str(files.ca))
        ca = crypto.X509.from_cryptography(x509.load_pem_x509_certificate(files.ca.read_bytes()))
        # Tells clients which CA we want, so one holding several certificates picks ours.
        context.set_client_ca_list([ca.get_subject()])
        flags = SSL.VERIFY_PEER
        if mode == "required":
            flags |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
        context.set_verify(flags, self._verify)
        # Session resumption with client verification needs a context id, or OpenSSL aborts the resume.
        context.set_session_id(b"statusdash")
        context.set_alpn_select_callback(_choose_protocol)
        self._context = context

    def _verify(self, connection: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
        # Not called for a resumed session; hosts/identity.py checks every certificate itself anyway.
        if ok:
            return True
        if self.mode == "required":
            return False
        if not getattr(connection, VERIFY_ERROR_ATTRIBUTE, None):
            setattr(connection, VERIFY_ERROR_ATTRIBUTE, _verify_error_text(errno))
        return True

    def getContext(self) -> SSL.Context:
        return self._context


def _choose_protocol(connection: SSL.Connection, offered: list[bytes]) -> bytes | SSL._NoOverlappingProtocols:
    """ALPN: HTTP/2 when the client offers it and Twisted can serve it (the h2 package), else HTTP/1.1."""
    if http.H2_ENABLED and b"h2" in offered:
        return b"h2"
    if b"http/1.1" in offered:
        return b"http/1.1"
    return SSL.NO_OVERLAPPING_PROTOCOLS


def _verify_error_text(errno: int) -> str:
    try:
        from OpenSSL._util import ffi, lib  # pyOpenSSL has no public X509_verify_cert_error_string
    except ImportError:
        return f"OpenSSL verify error {errno}"
    return str(ffi.string(lib.X509_verify_cert_error_string(errno)).decode())


def tls_connection(protocol: Any) -> SSL.Connection | None:
    """The pyOpenSSL connection under a Daphne protocol, found by walking down its transports.

    HTTP/1.1 requests and WebSockets sit directly on the TLS transport; an HTTP/2
    stream has no transport of its own, but its connection (`_conn`) sits on it.
    """
    transport = getattr(protocol, "transport", None)
    if transport is None:
        transport = getattr(getattr(getattr(protocol, "channel", None), "_conn", None), "transport", None)
    for _ in range(4):
        if transport is None:
            return None
        handle = getattr(transport, "getHandle", None)
        if handle is not None:
            connection = handle()
            if isinstance(connection, SSL.Connection):
                return connection
        transport = getattr(transport, "transport", None)
    return None


def tls_extension(connection: SSL.Connection) -> dict[str, Any]:
    """The ASGI TLS extension for one connection (asgiref's "TLS" extension spec)."""
    chain = list(connection.get_peer_cert_chain(as_cryptography=True) or [])
    peer = connection.get_peer_certificate(as_cryptography=True)
    if peer is not None and (not chain or chain[0] != peer):
        chain.insert(0, peer)
    pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in chain]
    error = getattr(connection, VERIFY_ERROR_ATTRIBUTE, None)
    return {
        "server_cert": None,
        "client_cert_chain": pem,
        "client_cert_name": chain[0].subject.rfc4514_string() if chain else None,
        "client_cert_error": error if chain else None,
        "tls_version": connection.get_protocol_version_name(),
        "cipher_suite": connection.get_cipher_name(),
    }


class MutualTLSServer(LimitedServer):
    """Daphne's Server (with the early body limit) listening on mutual-TLS endpoints instead of endpoint strings."""

    def __init__(
        self,
        application: Any,
        *,
        listen: list[tuple[str, int]],
        context_factory: MutualTLSContextFactory,
        **kwargs: Any,
    ) -> None:
        self.tls_listen = listen
        self.context_factory = context_factory
        # Daphne refuses to start without endpoint strings; these only name ours in its log.
        super().__init__(application, endpoints=[f"mtls:{host}:{port}" for host, port in listen], **kwargs)

    def run(self) -> None:
        # Imported when running, never at the top: importing the reactor installs Twisted's default
        # one, and Daphne must install its asyncio reactor first.
        from twisted.internet import reactor

        self.endpoints: list[str] = []  # ours are opened below, once the reactor (and http_factory) exist
        reactor.callWhenRunning(self._listen_tls)
        super().run()

    def _listen_tls(self) -> None:
        from twisted.internet import reactor  # installed by now (see run)

        for interface, port in self.tls_listen:
            endpoint = SSL4ServerEndpoint(reactor, port, self.context_factory, interface=interface)
            listener = endpoint.listen(self.http_factory)
            listener.addCallback(self.listen_success)
            listener.addErrback(self.listen_error)
            self.listeners.append(listener)

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        connection = tls_connection(protocol)
        if connection is not None:
            scope.setdefault("extensions", {})["tls"] = tls_extension(connection)
        return super().create_application(protocol, scope)
