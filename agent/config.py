"""Agent configuration: env file, then process environment, then command-line flags.

Every value is checked at start; a bad or missing value raises ConfigError with a
message naming the variable and what is wrong, so a misconfigured host fails loudly
instead of running for months without reporting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_ENV_FILE = "/etc/statusdash/agent.env"
DEFAULT_SPOOL_DIR = "/var/lib/statusdash-agent"
DEFAULT_PLUGIN_DIRS = "/usr/lib/nagios/plugins"

KNOWN_VARIABLES = (
    "SERVER_URL",
    "MTLS_ENABLED",
    "TLS_CERT",
    "TLS_KEY",
    "TLS_CA",
    "API_KEY",
    "REPORT_INTERVAL",
    "REQUEST_TIMEOUT",
    "SPOOL_DIR",
    "SPOOL_MAX_MB",
    "SPOOL_MAX_AGE_HOURS",
    "LOG_LEVEL",
    "RUN_CHECKS",
    "CHECK_PLUGIN_DIRS",
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class ConfigError(Exception):
    """A configuration value is missing or invalid; the message names the variable."""


# A NamedTuple rather than a dataclass: dataclasses pulls in inspect (about 1 MB
# of RSS) and the daemon has a memory budget.
class Config(NamedTuple):
    server_url: str = ""
    mtls_enabled: bool = True
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    api_key: str = ""
    report_interval: float = 10.0
    request_timeout: float = 10.0
    spool_dir: str = DEFAULT_SPOOL_DIR
    spool_max_mb: float = 50.0
    spool_max_age_hours: float = 168.0
    log_level: str = "INFO"
    # Service checks the hub assigns (agent/service_checks.py); false: this agent runs none.
    run_checks: bool = True
    # The only directories plugin checks may run from (the hub's list is the hub's, not ours).
    check_plugin_dirs: tuple[str, ...] = (DEFAULT_PLUGIN_DIRS,)

    @property
    def report_url(self) -> str:
        return self.server_url + "/api/metrics/report"

    @property
    def health_url(self) -> str:
        return self.server_url + "/health"


def as_environ(config: Config) -> dict[str, str]:
    """The configuration as the variables load() reads: for a child `python -m agent check`."""
    return {
        "SERVER_URL": config.server_url,
        "MTLS_ENABLED": "true" if config.mtls_enabled else "false",
        "TLS_CERT": config.tls_cert,
        "TLS_KEY": config.tls_key,
        "TLS_CA": config.tls_ca,
        "API_KEY": config.api_key,
        "REPORT_INTERVAL": repr(config.report_interval),
        "REQUEST_TIMEOUT": repr(config.request_timeout),
        "SPOOL_DIR": config.spool_dir,
        "SPOOL_MAX_MB": repr(config.spool_max_mb),
        "SPOOL_MAX_AGE_HOURS": repr(config.spool_max_age_hours),
        "LOG_LEVEL": config.log_level,
        "RUN_CHECKS": "true" if config.run_checks else "false",
        "CHECK_PLUGIN_DIRS": ",".join(config.check_plugin_dirs),
    }


def read_env_file(path: str) -> dict[str, str]:
    """Parse KEY=VALUE lines; '#' comments, blank lines, 'export ' and quotes allowed."""
    values = {}
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                line = line[len("export ") :].lstrip()
            key, sep, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key.isidentifier():
                raise ConfigError(f"{path}:{number}: expected KEY=VALUE, got {raw.strip()!r}")
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[key] = value
    return values


def load(
    env_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    require_server: bool = True,
) -> Config:
    """Merge the env file, the process environment and flag overrides, then validate.

    env_file=None reads DEFAULT_ENV_FILE if it exists; a file named explicitly must exist.
    require_server=False (for --dry-run) skips the checks only sending needs.
    """
    raw: dict[str, str] = {}
    if env_file is None:
        if os.path.exists(DEFAULT_ENV_FILE):
            raw.update(read_env_file(DEFAULT_ENV_FILE))
    else:
        if not os.path.isfile(env_file):
            raise ConfigError(f"--env-file: {env_file} does not exist or is not a file")
        raw.update(read_env_file(env_file))
    environ = os.environ if environ is None else environ
    raw.update({k: environ[k] for k in KNOWN_VARIABLES if k in environ})
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return _validate(raw, require_server)


def _validate(raw: Mapping[str, str], require_server: bool) -> Config:
    defaults = Config()
    mtls = _boolean(raw, "MTLS_ENABLED", defaults.mtls_enabled)
    config = Config(
        server_url=raw.get("SERVER_URL", "").strip().rstrip("/"),
        mtls_enabled=mtls,
        tls_cert=raw.get("TLS_CERT", "").strip(),
        tls_key=raw.get("TLS_KEY", "").strip(),
        tls_ca=raw.get("TLS_CA", "").strip(),
        api_key=raw.get("API_KEY", "").strip(),
        report_interval=_number(raw, "REPORT_INTERVAL", defaults.report_interval, 1, 3600),
        request_timeout=_number(raw, "REQUEST_TIMEOUT", defaults.request_timeout, 0.1, 300),
        spool_dir=raw.get("SPOOL_DIR", "").strip() or defaults.spool_dir,
        spool_max_mb=_number(raw, "SPOOL_MAX_MB", defaults.spool_max_mb, 0.01, 100_000),
        spool_max_age_hours=_number(raw, "SPOOL_MAX_AGE_HOURS", defaults.spool_max_age_hours, 0.001, 24 * 365),
        log_level=raw.get("LOG_LEVEL", defaults.log_level).strip().upper(),
        run_checks=_boolean(raw, "RUN_CHECKS", defaults.run_checks),
        check_plugin_dirs=_directories(raw, "CHECK_PLUGIN_DIRS", DEFAULT_PLUGIN_DIRS),
    )
    if config.log_level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: must be one of {', '.join(LOG_LEVELS)}, got {raw['LOG_LEVEL']!r}")
    if require_server:
        _check_server(config)
    return config


def _check_server(config: Config) -> None:
    if not config.server_url:
        raise ConfigError("SERVER_URL: missing (e.g. https://status.example.internal:5000)")
    parts = urlsplit(config.server_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"SERVER_URL: must be an http(s) URL with a host name, got {config.server_url!r}")
    if config.mtls_enabled:
        if parts.scheme != "https":
            raise ConfigError("SERVER_URL: must start with https:// when MTLS_ENABLED is true")
        _readable_file("TLS_CERT", config.tls_cert)
        _readable_file("TLS_KEY", config.tls_key)
        if config.tls_ca:
            _readable_file("TLS_CA", config.tls_ca)
    elif not config.api_key:
        raise ConfigError("API_KEY: missing; it is required when MTLS_ENABLED is false")


def _readable_file(name: str, path: str) -> None:
    if not path:
        raise ConfigError(f"{name}: missing; it is required when MTLS_ENABLED is true")
    if not os.path.isfile(path):
        raise ConfigError(f"{name}: {path} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{name}: {path} is not readable by this user")


def _boolean(raw: Mapping[str, str], name: str, default: bool) -> bool:
    value = raw.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}: must be true or false, got {raw[name]!r}")


def _directories(raw: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    """Absolute directories, comma-separated; an empty value (set, but blank) means none."""
    value = raw.get(name, default)
    found = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        if not os.path.isabs(item) or ".." in item.split("/"):
            raise ConfigError(f"{name}: must list absolute directories without '..', got {item!r}")
        found.append(os.path.normpath(item))
    return tuple(found)


def _number(raw: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    value = raw.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}: must be a number, got {value!r}") from None
    if not low <= number <= high:  # also rejects NaN
        raise ConfigError(f"{name}: must be between {low:g} and {high:g}, got {value}")
    return number
