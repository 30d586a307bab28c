"""Read settings from the environment, failing loudly on values that make no sense.

Every helper takes the variable name and a default, so `settings.py` reads as a
list of what can be configured. A bad value raises ImproperlyConfigured naming
the variable, at start-up, rather than surfacing later as a confusing error.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def load_env_file(path: Path) -> None:
    """Load KEY=VALUE lines from an optional .env file without overriding the real environment."""
    if not path.is_file():
        return
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ImproperlyConfigured(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key.strip(), value)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}")
    return value


def env_percent(name: str, default: int) -> int:
    return env_int(name, default, minimum=1, maximum=100)


def env_list(name: str, default: str = "") -> list[str]:
    raw = os.environ.get(name, default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (case-insensitive); anything else stops start-up naming the choices."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


def env_map(name: str, default: str = "") -> dict[str, str]:
    """`key:value,key:value` pairs (a comma-separated list of them), each key once."""
    pairs: dict[str, str] = {}
    for item in env_list(name, default):
        key, sep, value = item.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ImproperlyConfigured(f"{name}: expected key:value pairs separated by commas, got {item!r}")
        if key in pairs:
            raise ImproperlyConfigured(f"{name}: {key!r} is given twice")
        pairs[key] = value
    return pairs


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in '90s', '15m', '1h', '7d'. Raises ValueError on anything else."""
    text = text.strip().lower()
    number, unit = text[:-1], text[-1:]
    if unit not in DURATION_UNITS or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 1h or 7d")
    return int(number) * DURATION_UNITS[unit]


def env_tiers(name: str, default: str, longest_keep_seconds: int) -> list[tuple[int, int]]:
    """Rollup tiers 'STEP[:KEEP],...' (e.g. '1m:7d,15m,1h') as (step, keep) seconds, finest first.

    A tier without KEEP, or with a longer one, is kept `longest_keep_seconds`.
    """
    raw = os.environ.get(name, default)
    tiers = []
    for item in [part.strip() for part in raw.split(",") if part.strip()]:
        step_text, _, keep_text = item.partition(":")
        try:
            step = parse_duration(step_text)
            keep = min(parse_duration(keep_text), longest_keep_seconds) if keep_text else longest_keep_seconds
        except ValueError as error:
            raise ImproperlyConfigured(f"{name}: {error}") from None
        if 86400 % step:
            raise ImproperlyConfigured(f"{name}: step {step_text} must divide a day evenly")
        tiers.append((step, keep))
    steps = [step for step, _ in tiers]
    if len(set(steps)) != len(steps):
        raise ImproperlyConfigured(f"{name}: each step may appear once, got {raw!r}")
    return sorted(tiers)


def env_networks(name: str, default: str = "") -> list[IPv4Network | IPv6Network]:
    """Comma-separated addresses or CIDR networks (`10.0.0.5, 10.9.0.0/24`)."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name} must list IP addresses or CIDR networks, got {item!r}") from None
    return networks
