"""Run one service check on this host: one function per kind, each `probe(check) -> Result`.

The agent's runners use only what the agent already has (the standard library and
requests), where the hub's use httpx, dnspython, icmplib and cryptography. So:
- http: requests; the timeout bounds each connect and read, not the whole exchange.
- tls: ssl; the expiry comes from the verified peer certificate's notAfter, or for
  `verify: false` from the ssl module's own PEM decoder (no `cryptography` needed).
- dns: socket.getaddrinfo, through the host's own resolvers: A and AAAA only. Other
  record types, or a `resolver` option, are `unknown` saying so (the hub can run them).
  getaddrinfo cannot be interrupted: the resolver's own timeouts (resolv.conf) bound it.
- ping: the system's `ping` (iputils), `unknown` where there is none.
- plugin: a Nagios-compatible plugin from an allow-listed directory (CHECK_PLUGIN_DIRS),
  run as the agent's own user, never through a shell, killed at the timeout with what
  it started, its output cut at 64 KiB.

A probe never raises: a failure of the probe itself is an `unknown` result saying what.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import requests

from agent.http_expect import judge as judge_http
from agent.nagios import CRITICAL, EXIT_STATES, OK, UNKNOWN, WARNING, parse_output, run_capped

MESSAGE_MAX_LENGTH = 500  # the hub refuses longer messages (metrics/schemas.py)
BODY_LIMIT = 1024 * 1024  # an HTTP body is read this far for the keyword and JSON checks
PING_TIME = re.compile(r"time[=<]([\d.]+) ?ms")
PING_COUNTS = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")


class Result(NamedTuple):
    state: str
    message: str = ""
    latency_ms: float | None = None


def probe(check: dict[str, Any], plugin_dirs: Sequence[str]) -> Result:
    """One run of `check` (as GET /api/agent/checks sent it). Never raises."""
    kind = check.get("kind")
    try:
        if kind == "plugin":
            return plugin(check, plugin_dirs)
        runner = PROBES.get(str(kind))
        if runner is None:
            return Result(UNKNOWN, f"this agent cannot run {kind!r} checks; update it")
        return runner(check)
    except Exception as error:  # a probe's own bug costs its result, never the agent
        return Result(UNKNOWN, f"the agent's {kind} probe failed: {type(error).__name__}: {error}")


def elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def options_of(check: dict[str, Any]) -> dict[str, Any]:
    options = check.get("options")
    return options if isinstance(options, dict) else {}


def split_host_port(target: str, default_port: int | None = None) -> tuple[str, int]:
    """("db.example", 5432) from "db.example:5432" or "[::1]:5432"; ValueError otherwise."""
    host, port_text = target, ""
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else rest
    elif target.count(":") == 1:
        host, _, port_text = target.partition(":")
    if not port_text and default_port is not None:
        port_text = str(default_port)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535 or not host:
        raise ValueError(f"{target!r} is not host:port")
    return host, int(port_text)


# --- tcp -------------------------------------------------------------------------


def tcp(check: dict[str, Any]) -> Result:
    host, port = split_host_port(check["target"])
    timeout = float(check["timeout"])
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            latency = elapsed_ms(started)
    except socket.timeout:
        return Result(CRITICAL, f"no answer from {host}:{port} within {timeout:g} s")
    except OSError as error:
        return Result(CRITICAL, f"{host}:{port}: {error.strerror or error}")
    return Result(OK, f"connected to {host}:{port}", latency)


# --- http ------------------------------------------------------------------------


def http(check: dict[str, Any]) -> Result:
    options = options_of(check)
    timeout = float(check["timeout"])
    headers = {"User-Agent": "statusdash-agent-check", **(options.get("headers") or {})}
    if check.get("bearer_token"):
        headers["Authorization"] = f"Bearer {check['bearer_token']}"
    auth = (check["username"], check.get("password") or "") if check.get("username") else None
    session = requests.Session()
    session.trust_env = False  # a proxy from the agent's environment would change what is measured
    started = time.perf_counter()
    try:
        with session.request(
            options.get("method", "GET"),
            check["target"],
            data=(options.get("body") or None),
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=options.get("follow_redirects", True),
            verify=options.get("verify_tls", True),
            stream=True,
        ) as response:
            body = bytearray()
            for chunk in response.iter_content(65536):
                body += chunk
                if len(body) >= BODY_LIMIT:
                    break
            latency = elapsed_ms(started)
            status = response.status_code
    except requests.Timeout:
        return Result(CRITICAL, f"no answer within {timeout:g} s")
    except requests.RequestException as error:
        return Result(CRITICAL, f"{type(error).__name__}: {error}")
    finally:
        session.close()
    problem = judge_http(options, status, bytes(body[:BODY_LIMIT]))
    if problem:
        return Result(CRITICAL, problem, latency)
    return Result(OK, f"HTTP {status}", latency)


# --- tls -------------------------------------------------------------------------


def tls(check: dict[str, Any]) -> Result:
    options = options_of(check)
    host, port = split_host_port(check["target"], default_port=443)
    timeout = float(check["timeout"])
    verify = options.get("verify", True)
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    name = options.get("server_name") or host
    started = time.perf_counter()
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=name) as conn,
        ):
            latency = elapsed_ms(started)
            # A verified connection gives the decoded certificate; an unverified one only its DER.
            cert = conn.getpeercert() if verify else decode_der(conn.getpeercert(binary_form=True))
    except ssl.SSLCertVerificationError as error:
        return Result(CRITICAL, f"certificate not trusted: {error.verify_message}")
    except socket.timeout:
        return Result(CRITICAL, f"no TLS handshake with {host}:{port} within {timeout:g} s")
    except (OSError, ssl.SSLError) as error:
        return Result(CRITICAL, f"{host}:{port}: {error}")
    if not cert or "notAfter" not in cert:
        return Result(CRITICAL, "the server presented no certificate", latency)
    expires = ssl.cert_time_to_seconds(str(cert["notAfter"]))
    days = (expires - time.time()) / 86400
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(expires))
    if days <= 0:
        return Result(CRITICAL, f"certificate expired {when} UTC", latency)
    message = f"certificate expires {when} UTC ({days:.1f} days)"
    if days <= options.get("critical_days", 7):
        return Result(CRITICAL, message, latency)
    if days <= options.get("warn_days", 14):
        return Result(WARNING, message, latency)
    return Result(OK, message, latency)


def decode_der(der: bytes | None) -> dict[str, Any]:
    if not der:
        return {}
    # The ssl module decodes only files (the same decoder `agent check` uses for its own certificate).
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
        pem.write(ssl.DER_cert_to_PEM_cert(der))
        pem.flush()
        return ssl._ssl._test_decode_cert(pem.name)  # type: ignore[attr-defined]


# --- dns -------------------------------------------------------------------------

FAMILIES = {"A": socket.AF_INET, "AAAA": socket.AF_INET6}


def dns(check: dict[str, Any]) -> Result:
    options = options_of(check)
    record_type = options.get("record_type", "A")
    if record_type not in FAMILIES:
        return Result(UNKNOWN, f"the agent resolves A and AAAA only, not {record_type}; run this check on the hub")
    if options.get("resolver"):
        return Result(UNKNOWN, "the agent asks the host's own resolvers only; run checks with a resolver on the hub")
    name = check["target"]
    started = time.perf_counter()
    try:
        infos = socket.getaddrinfo(name, None, FAMILIES[record_type], socket.SOCK_STREAM)
    except socket.gaierror as error:
        return Result(CRITICAL, f"{name} ({record_type}): {error.strerror or error}", elapsed_ms(started))
    latency = elapsed_ms(started)
    answers = sorted({str(info[4][0]) for info in infos})
    shown = ", ".join(answers)[:300]
    expected = options.get("expected") or ""
    if expected and expected not in answers:
        return Result(CRITICAL, f"{record_type} {shown}, expected {expected}", latency)
    return Result(OK, f"{record_type} {shown}", latency)


# --- ping ------------------------------------------------------------------------


def ping(check: dict[str, Any]) -> Result:
    command = shutil.which("ping") or next((p for p in ("/usr/bin/ping", "/bin/ping") if os.path.exists(p)), None)
    if command is None:
        return Result(UNKNOWN, "no ping command on this host (install iputils-ping)")
    target = check["target"]
    if target.startswith("-") or not target:
        return Result(UNKNOWN, f"{target!r} is not a host name")  # never an option for ping
    count = int(options_of(check).get("count", 3))
    timeout = float(check["timeout"])
    # -w: the whole run's deadline; -i 0.2: the shortest interval ping allows a user.
    argv = [command, "-n", "-c", str(count), "-i", "0.2", "-w", str(max(1, int(timeout))), target]
    output, code = run_capped(argv, timeout + 1)
    text = output.decode("utf-8", errors="replace")
    times = [float(t) for t in PING_TIME.findall(text)]
    if code is None:
        return Result(CRITICAL, f"ping did not finish within {timeout:g} s (killed)")
    if not times:
        last = text.strip().splitlines()[-1] if text.strip() else f"exit code {code}"
        return Result(CRITICAL, f"{target}: no echo reply ({last})"[:MESSAGE_MAX_LENGTH])
    counts = PING_COUNTS.search(text)
    sent, received = (int(counts.group(1)), int(counts.group(2))) if counts else (count, len(times))
    average = round(sum(times) / len(times), 2)
    state = WARNING if received < sent else OK
    return Result(state, f"{received}/{sent} replies, rtt avg {average:.2f} ms", average)


# --- plugin ----------------------------------------------------------------------


def is_inside(path: str, allowed_dirs: Sequence[str]) -> bool:
    normal = os.path.normpath(path)
    return any(normal.startswith(os.path.normpath(d).rstrip("/") + "/") for d in allowed_dirs)


def plugin_refusal(path: str, allowed_dirs: Sequence[str]) -> str:
    """Why the agent will not run `path`, or "" when it may."""
    if not allowed_dirs:
        return "plugins are off on this agent (CHECK_PLUGIN_DIRS is empty)"
    if not os.path.isabs(path):
        return f"{path!r} is not an absolute path"
    if ".." in path.split("/"):
        return f"{path!r} contains '..'; the agent runs plain paths only"
    if not is_inside(path, allowed_dirs):
        return f"{path!r} is outside CHECK_PLUGIN_DIRS ({', '.join(allowed_dirs)})"
    # Checked again with links resolved: a link inside the directory may point anywhere.
    real = os.path.realpath(path)
    if not is_inside(real, allowed_dirs):
        return f"{path!r} leads outside CHECK_PLUGIN_DIRS ({real})"
    if not os.path.isfile(real) or not os.access(real, os.X_OK):
        return f"{path!r} is not an executable file"
    return ""


def plugin(check: dict[str, Any], allowed_dirs: Sequence[str]) -> Result:
    path = check["target"]
    refusal = plugin_refusal(path, allowed_dirs)
    if refusal:
        return Result(UNKNOWN, refusal)
    args = options_of(check).get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return Result(UNKNOWN, "the plugin's args must be a list of strings")
    timeout = float(check["timeout"])
    output, code = run_capped([os.path.realpath(path), *args], timeout)
    if code is None:
        return Result(UNKNOWN, f"the plugin did not finish within {timeout:g} s (killed)")
    text, latency = parse_output(output)
    if code not in EXIT_STATES:
        text = f"exit code {code}: {text}"
    return Result(EXIT_STATES.get(code, UNKNOWN), text, latency)


PROBES = {"http": http, "tcp": tcp, "tls": tls, "dns": dns, "ping": ping}
