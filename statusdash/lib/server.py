"""Daphne with a request body limit that holds before the body is read.

Stock Daphne (through Twisted) reads a whole request body, into memory or a temporary
file, before the ASGI application sees the request, so BodyLimitMiddleware's 413 came
only after a 50 MB upload, and a declared 10 GiB body was written to disk as it arrived.
Embedded mode and the mutual-TLS port have no proxy in front to cap bodies, so the server
itself refuses:

- a declared Content-Length over MAX_REPORT_BYTES: 413 as soon as the headers are in,
  before a byte of the body is stored;
- a chunked (HTTP/1.1) or unannounced (HTTP/2) body: cut when it passes the limit.

HTTP/1.1 answers 413 and closes the connection; whatever the client still sends is
discarded, for at most LINGER_SECONDS, so that a client busy sending reads the 413
instead of a connection reset. HTTP/2 resets the stream (its other streams go on).

`python -m statusdash.lib.server` takes Daphne's command line; statusdash.tls_server
builds on LimitedServer too.
"""

from __future__ import annotations

import json
import logging
from typing import Any

# daphne.server installs Twisted's asyncio reactor when imported; it comes before the
# reactor import below, which then gets that reactor.
from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from django.conf import settings
from twisted.internet import reactor as installed_reactor

from statusdash.lib.observability import record_rejection

log = logging.getLogger("statusdash.server")

# Twisted's type hints describe `reactor` as an interface class, not the instance it is.
reactor: Any = installed_reactor

# How long a refused HTTP/1.1 connection keeps reading (and dropping) what the client sends.
LINGER_SECONDS = 2.0


class LimitedRequest(WebRequest):
    refused = False
    received = 0

    @property
    def is_http2(self) -> bool:
        # An HTTP/2 request's channel is its stream, which has an id; an HTTP/1.1 channel has none.
        return hasattr(self.channel, "streamID")

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > settings.MAX_REPORT_BYTES:
            self.refuse(f"request body of {length} bytes is larger than {settings.MAX_REPORT_BYTES} bytes")
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.refused:
            return
        self.received += len(data)
        if self.received > settings.MAX_REPORT_BYTES:
            self.content.close()
            self.refuse(f"request body is larger than {settings.MAX_REPORT_BYTES} bytes")
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self.refused:
            # The whole (discarded) body is in: nothing more to wait for.
            if not self.is_http2:
                self.channel.transport.loseConnection()
            return
        super().requestReceived(command, path, version)

    def refuse(self, detail: str) -> None:
        self.refused = True
        # The path is not on the request until the body is in; the channel has it already.
        path = getattr(self.channel, "_path", None) or getattr(self.channel, "path", None) or b""
        record_rejection(path.decode("latin-1").split("?", 1)[0], 413)
        log.warning("request body refused", extra={"detail": detail})
        if self.is_http2:
            # The stream is not registered with its connection yet while its headers are
            # being read (gotLength): reset it on the next turn of the reactor.
            reactor.callLater(0, self.channel.abortConnection)
            return
        body = json.dumps({"detail": detail}).encode()
        transport = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + body
        )
        reactor.callLater(LINGER_SECONDS, transport.loseConnection)


class LimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = LimitedRequest
        return protocol


class LimitedServer(Server):
    """Daphne's Server with LimitedRequest for every HTTP/1.1 and HTTP/2 request.

    Server.run() builds its HTTPFactory inline; the property swaps in ours as it is set,
    which keeps the rest of run() Daphne's own.
    """

    @property
    def http_factory(self) -> HTTPFactory:
        return self._limited_http_factory

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        self._limited_http_factory = factory if isinstance(factory, LimitedHTTPFactory) else LimitedHTTPFactory(self)


class LimitedCommandLineInterface(CommandLineInterface):
    server_class = LimitedServer


if __name__ == "__main__":
    LimitedCommandLineInterface.entrypoint()
