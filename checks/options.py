"""Each kind's options: what a check's `options` JSON may hold, validated and typed.

The model stores them as JSON (one column for six kinds) and validates them here in
`Check.clean()`, so the admin, the CLI and the API refuse the same things; the runners
read them through the same classes, so a stored value always has the shape they expect.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# RFC 9110's token: what a header name may be made of.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class Options(BaseModel):
    # A misspelt option is an error, not a silently ignored key.
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpOptions(Options):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    # Empty: any 2xx or 3xx answer is up.
    expect_status: list[int] = Field(default_factory=list, max_length=20)
    keyword: str = Field("", max_length=500)
    # True: the keyword must NOT appear (an error page's text, say).
    keyword_absent: bool = False
    # Dotted path into a JSON body ("status", "checks.0.state"); the value must equal json_expected.
    json_path: str = Field("", max_length=200)
    json_expected: str = Field("", max_length=500)
    follow_redirects: bool = True
    headers: dict[str, str] = Field(default_factory=dict, max_length=30)
    verify_tls: bool = True
    body: str = Field("", max_length=10_000)

    @field_validator("headers")
    @classmethod
    def headers_are_sendable(cls, headers: dict[str, str]) -> dict[str, str]:
        # Refused when saved, not found out at every run (httpx raises on each one).
        for name, value in headers.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a header name (letters, digits and -, no spaces)")
            if any(c in value for c in "\r\n\0"):
                raise ValueError(f"the value of {name} must be one line")
        return headers


class TcpOptions(Options):
    pass


class TlsOptions(Options):
    warn_days: int = Field(14, ge=0, le=3650)
    critical_days: int = Field(7, ge=0, le=3650)
    # False: check the expiry of whatever certificate is presented (a private CA, say).
    verify: bool = True
    server_name: str = Field("", max_length=253)


RecordType = Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA"]


class DnsOptions(Options):
    record_type: RecordType = "A"
    # Empty: any answer is up; else one of the answers must read exactly this.
    expected: str = Field("", max_length=500)
    # "ip" or "ip:port" ("[v6]:port"); empty: the system's resolvers.
    resolver: str = Field("", max_length=60)


class PingOptions(Options):
    count: int = Field(3, ge=1, le=10)


class PluginOptions(Options):
    args: list[str] = Field(default_factory=list, max_length=50)


OPTIONS_BY_KIND: dict[str, type[Options]] = {
    "http": HttpOptions,
    "tcp": TcpOptions,
    "tls": TlsOptions,
    "dns": DnsOptions,
    "ping": PingOptions,
    "plugin": PluginOptions,
}
