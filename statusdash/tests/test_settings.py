"""Settings come from the environment and fail loudly on bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from statusdash.lib import env

BASE_DIR = Path(__file__).resolve().parents[2]


SUMMARY = "print(s.DATABASES['default']['ENGINE'], s.MTLS_ENABLED, s.CPU_THRESHOLD, len(s.TRUSTED_PROXIES))"


def load_settings(tmp_path: Path, show: str = SUMMARY, **variables: str) -> subprocess.CompletedProcess[str]:
    """Import the settings (as `s`) in a fresh interpreter with exactly these variables; run `show`."""
    environment = {"PATH": os.environ["PATH"], "DATA_DIR": str(tmp_path / "data"), "ENV_FILE": str(tmp_path / "none")}
    environment.update(variables)
    code = f"import statusdash.settings as s; {show}"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60
    )


def test_defaults_run_with_no_environment(tmp_path: Path) -> None:
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    # No proxy is trusted unless one is named (docker-compose names its nginx).
    assert result.stdout.split() == ["django.db.backends.sqlite3", "False", "90", "0"]
    assert (tmp_path / "data" / "db").is_dir()
    assert (tmp_path / "data" / "backups" / "databases").is_dir()
    assert (tmp_path / "data" / "vault" / "certs").is_dir()
    assert oct((tmp_path / "data" / ".secret_key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CPU_THRESHOLD", "ninety", "CPU_THRESHOLD must be a whole number"),
        ("MEMORY_THRESHOLD", "150", "MEMORY_THRESHOLD must be at most 100"),
        ("STATUS_PORT", "0", "STATUS_PORT must be at least 1"),
        ("MTLS_ENABLED", "maybe", "MTLS_ENABLED must be true or false"),
        ("PUBLIC_URL", "status.example.com", "PUBLIC_URL must be an http(s) URL"),
        ("STATUS_JWT_SECRET", "short", "STATUS_JWT_SECRET must be at least 32 characters"),
        ("DATABASE_URL", "nonsense://x", "DATABASE_URL is not a database URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be"),
        ("OFFLINE_AFTER_INTERVALS", "2", "OFFLINE_AFTER_INTERVALS must be greater"),
        ("MAX_DECODED_REPORT_BYTES", "16777216", "gzip bodies inflate to at most MAX_REPORT_BYTES"),
        ("ALERT_RETENTION_DAYS", "a year", "ALERT_RETENTION_DAYS must be a whole number"),
        ("ALERT_RETENTION_DAYS", "0", "ALERT_RETENTION_DAYS must be at least 1"),
        ("ALERT_RETENTION_DAYS", "36501", "ALERT_RETENTION_DAYS must be at most 36500"),
        ("INGEST_SYNCHRONOUS_COMMIT", "sometimes", "INGEST_SYNCHRONOUS_COMMIT must be true or false"),
        ("REQUIRE_2FA", "admin", "REQUIRE_2FA must be one of admins, all, none"),
        ("PASSWORD_LOGIN", "false", "PASSWORD_LOGIN=false needs OIDC_ISSUER"),
        ("OIDC_ISSUER", "https://id.example.test", "only OIDC_ISSUER is set"),
        ("OIDC_ROLE_MAP", "ops", "OIDC_ROLE_MAP: expected key:value pairs"),
        ("OIDC_ROLE_MAP", "ops:root", "OIDC_ROLE_MAP: 'ops' maps to 'root'"),
        ("OIDC_ROLE_MAP", "ops:viewer,ops:admin", "OIDC_ROLE_MAP: 'ops' is given twice"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(tmp_path: Path, variable: str, value: str, message: str) -> None:
    result = load_settings(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_oidc_settings_read_together(tmp_path: Path) -> None:
    result = load_settings(
        tmp_path,
        show="print(s.OIDC_ENABLED, s.OIDC_ISSUER, s.OIDC_ROLE_MAP, s.AUTHENTICATION_BACKENDS, s.REQUIRE_2FA)",
        OIDC_ISSUER="https://id.example.test/",
        OIDC_CLIENT_ID="statusdash",
        OIDC_CLIENT_SECRET="s3cret",
        OIDC_ROLE_MAP="ops:operator, admins:admin",
        PASSWORD_LOGIN="false",
        REQUIRE_2FA="ALL",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "True https://id.example.test {'ops': 'operator', 'admins': 'admin'} ['accounts.backends.RolePermissionsBackend', 'accounts.oidc.RoleClaimBackend'] all"
    )


def test_database_url_selects_postgresql(tmp_path: Path) -> None:
    result = load_settings(tmp_path, DATABASE_URL="postgres://u@127.0.0.1:5432/x")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "django.db.backends.postgresql"


def test_postgresql_connections_come_from_a_pool_as_large_as_the_threads_that_use_them(tmp_path: Path) -> None:
    # WEB_THREADS request threads and the one Channels consumers run on; no persistent connections.
    show = "d = s.DATABASES['default']; print(d['CONN_MAX_AGE'], d['OPTIONS']['pool']['max_size'])"
    result = load_settings(tmp_path, show, DATABASE_URL="postgres://u@127.0.0.1:5432/x", WEB_THREADS="6")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "7"]


def test_env_file_is_read_but_real_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nCPU_THRESHOLD=70\nexport MTLS_ENABLED='true'\n")
    result = load_settings(tmp_path, ENV_FILE=str(env_file))
    assert result.stdout.split()[1:][:2] == ["True", "70"]
    result = load_settings(tmp_path, ENV_FILE=str(env_file), CPU_THRESHOLD="80")
    assert result.stdout.split()[2] == "80"


def test_malformed_env_file_line_is_reported(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CPU_THRESHOLD 70\n")
    with pytest.raises(ImproperlyConfigured, match=r"\.env:1: expected KEY=VALUE"):
        env.load_env_file(env_file)


def test_env_list_splits_and_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", " 10.0.0.1, 10.0.0.0/24 ,,")
    assert env.env_list("TRUSTED_PROXIES") == ["10.0.0.1", "10.0.0.0/24"]


def mode(path: Path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_data_directories_and_the_database_are_the_owners_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "db").mkdir(mode=0o755)  # as `make setup` or an older version left them
    code = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "connection.cursor().execute('CREATE TABLE t (x)')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={
            "PATH": os.environ["PATH"],
            "DATA_DIR": str(data),
            "ENV_FILE": str(tmp_path / "none"),
            "DJANGO_SETTINGS_MODULE": "statusdash.settings",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for directory in (data, data / "db", data / "backups", data / "backups" / "databases", data / "vault"):
        assert mode(directory) == "0o700", directory
    database = data / "db" / "status-dashboard.db"
    assert mode(database) == "0o600"
    for companion in database.parent.glob("status-dashboard.db-*"):  # the WAL and its index
        assert mode(companion) == "0o600", companion
    assert mode(data / ".status_jwt_secret") == "0o600"


def test_processes_starting_together_on_a_fresh_data_dir_agree_on_one_secret(tmp_path: Path) -> None:
    environment = {"PATH": os.environ["PATH"], "DATA_DIR": str(tmp_path / "data"), "ENV_FILE": str(tmp_path / "none")}
    code = "import statusdash.settings as s; print(s.SECRET_KEY, s.STATUS_JWT_SECRET)"
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=BASE_DIR,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    outputs = [process.communicate(timeout=120) for process in starting]
    assert [process.returncode for process in starting] == [0] * 8, [err for _, err in outputs]
    secrets_seen = {out.strip() for out, _ in outputs}
    assert len(secrets_seen) == 1
    assert len(next(iter(secrets_seen)).split()[0]) >= 32
    assert not list((tmp_path / "data").glob(".secret_key.*"))  # no candidate left behind
