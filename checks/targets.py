"""What a check's target may be, per kind: parsed here for validation and for the runners alike."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$")
IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")


def validate_url(target: str) -> None:
    try:
        URLValidator(schemes=["http", "https"])(target)
    except ValidationError:
        raise ValidationError(f"{target!r} is not an http:// or https:// URL.") from None


def validate_host(host: str) -> None:
    if not (HOSTNAME.match(host) or (":" in host and IPV6.match(host))):
        raise ValidationError(f"{host!r} is not a host name or an IP address.")


def split_host_port(target: str, default_port: int | None = None) -> tuple[str, int]:
    """("db.example", 5432) from "db.example:5432" or "[::1]:5432"; ValidationError otherwise."""
    host, port_text = target, ""
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif target.count(":") == 1:
        host, _, port_text = target.partition(":")
    if not port_text:
        if default_port is None:
            raise ValidationError(f"{target!r} needs a port: host:port.")
        port_text = str(default_port)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValidationError(f"{target!r}: the port must be a number from 1 to 65535.")
    validate_host(host)
    return host, int(port_text)


def validate_plugin_path(target: str, allowed_dirs: Iterable[str]) -> None:
    """An absolute path inside one of the allowed directories, with no `..` to climb out of it.

    Checked on the text, since an agent's plugin lives on the agent, not on the hub; the
    hub's runner also resolves symbolic links before running one (runners/plugin.py).
    """
    path = PurePosixPath(target)
    if not path.is_absolute():
        raise ValidationError(f"{target!r} is not an absolute path.")
    if ".." in path.parts:
        raise ValidationError(f"{target!r} contains '..'; give the plugin's plain path.")
    if not is_inside(target, allowed_dirs):
        raise ValidationError(
            f"{target!r} is outside the plugin directories ({', '.join(allowed_dirs)}; CHECK_PLUGIN_DIRS)."
        )


def is_inside(path: str, allowed_dirs: Iterable[str]) -> bool:
    normal = os.path.normpath(path)
    return any(normal.startswith(os.path.normpath(d).rstrip("/") + "/") for d in allowed_dirs)
