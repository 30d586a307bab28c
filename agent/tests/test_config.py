import pytest

from agent import config
from agent.config import ConfigError


@pytest.fixture
def certs(tmp_path):
    cert, key = tmp_path / "agent.crt", tmp_path / "agent.key"
    cert.write_text("cert")
    key.write_text("key")
    return {"TLS_CERT": str(cert), "TLS_KEY": str(key)}


def write_env(tmp_path, text):
    path = tmp_path / "agent.env"
    path.write_text(text)
    return str(path)


def test_env_file_values_are_read(tmp_path, certs):
    path = write_env(
        tmp_path,
        "# comment\n\nSERVER_URL=https://hub.test:5000/\n"
        f"export TLS_CERT=\"{certs['TLS_CERT']}\"\nTLS_KEY='{certs['TLS_KEY']}'\nREPORT_INTERVAL=30\n",
    )
    cfg = config.load(path, environ={})
    assert cfg.server_url == "https://hub.test:5000"
    assert cfg.report_url == "https://hub.test:5000/api/metrics/report"
    assert cfg.tls_cert == certs["TLS_CERT"]
    assert cfg.report_interval == 30
    assert cfg.mtls_enabled is True


def test_defaults_apply_when_unset(tmp_path):
    path = write_env(tmp_path, "SERVER_URL=http://hub.test\nMTLS_ENABLED=false\nAPI_KEY=k\n")
    cfg = config.load(path, environ={})
    assert cfg.report_interval == 10
    assert cfg.spool_dir == "/var/lib/statusdash-agent"
    assert cfg.log_level == "INFO"


def test_environment_overrides_file_and_flags_override_both(tmp_path):
    path = write_env(tmp_path, "SERVER_URL=http://file\nMTLS_ENABLED=false\nAPI_KEY=file\n")
    cfg = config.load(path, environ={"API_KEY": "env", "SERVER_URL": "http://env"})
    assert (cfg.server_url, cfg.api_key) == ("http://env", "env")
    cfg = config.load(path, environ={"API_KEY": "env"}, overrides={"API_KEY": "flag"})
    assert cfg.api_key == "flag"


def test_explicit_env_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match=r"--env-file: .*does not exist"):
        config.load(str(tmp_path / "missing.env"), environ={})


def test_missing_default_env_file_is_fine():
    cfg = config.load(None, environ={"SERVER_URL": "http://h", "MTLS_ENABLED": "no", "API_KEY": "k"})
    assert cfg.api_key == "k"


def test_malformed_env_line_names_file_and_line(tmp_path):
    path = write_env(tmp_path, "SERVER_URL=http://h\nthis is not an assignment\n")
    with pytest.raises(ConfigError, match=r"agent.env:2: expected KEY=VALUE"):
        config.load(path, environ={})


@pytest.mark.parametrize(
    "values, message",
    [
        ({}, "SERVER_URL: missing"),
        ({"SERVER_URL": "ftp://hub"}, "SERVER_URL: must be an http"),
        ({"SERVER_URL": "http://hub"}, "SERVER_URL: must start with https:// when MTLS_ENABLED"),
        ({"SERVER_URL": "https://hub", "MTLS_ENABLED": "maybe"}, "MTLS_ENABLED: must be true or false"),
        ({"SERVER_URL": "https://hub"}, "TLS_CERT: missing"),
        ({"SERVER_URL": "https://hub", "TLS_CERT": "/nonexistent.crt"}, "TLS_CERT: /nonexistent.crt does not exist"),
        ({"SERVER_URL": "http://hub", "MTLS_ENABLED": "false"}, "API_KEY: missing"),
        ({"REPORT_INTERVAL": "ten"}, "REPORT_INTERVAL: must be a number"),
        ({"REPORT_INTERVAL": "0"}, "REPORT_INTERVAL: must be between"),
        ({"REPORT_INTERVAL": "nan"}, "REPORT_INTERVAL: must be between"),
        ({"REQUEST_TIMEOUT": "-1"}, "REQUEST_TIMEOUT: must be between"),
        ({"SPOOL_MAX_MB": "lots"}, "SPOOL_MAX_MB: must be a number"),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL: must be one of"),
    ],
)
def test_bad_values_name_the_variable(values, message):
    with pytest.raises(ConfigError, match=message):
        config.load(None, environ={}, overrides=values)


def test_missing_key_file_is_named(certs, tmp_path):
    values = {"SERVER_URL": "https://hub", **certs, "TLS_KEY": str(tmp_path / "gone.key")}
    with pytest.raises(ConfigError, match=r"TLS_KEY: .*gone\.key does not exist"):
        config.load(None, environ={}, overrides=values)


def test_dry_run_needs_no_server():
    cfg = config.load(None, environ={}, require_server=False)
    assert cfg.server_url == ""
