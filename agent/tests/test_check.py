import pytest

from agent.check import run_checks


@pytest.fixture(scope="module")
def other_ca(pki):
    return pki.ca("some-other-ca")


def lines(capsys, status: str) -> list[str]:
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith(status)]


def test_healthy_mtls_setup_passes_every_step(mtls_sink, mtls_config, capsys):
    assert run_checks(mtls_config) == 0
    out = capsys.readouterr().out
    for step in ("configuration", "client certificate", "private key", "CA", "DNS", "TLS", "health", "authentication"):
        assert f"[ OK ] {step}:" in out
    assert "valid for 363 more days" in out or "valid for 364 more days" in out
    assert "all checks passed" in out


def test_certificate_from_another_ca_is_named_as_such(mtls_sink, mtls_config, pki, other_ca, capsys):
    cert, key = pki.issue(other_ca, "stranger")
    assert run_checks(mtls_config._replace(tls_cert=cert, tls_key=key)) == 1
    failed = lines(capsys, "[FAIL]")
    assert failed[0] == (
        "[FAIL] CA: the certificate was issued by 'CN=some-other-ca', but TLS_CA is 'CN=statusdash-test-ca': "
        "not the same CA"
    )
    # The alert's name ("unknown ca") arrives unless the hub's close wins the race.
    assert failed[1].startswith("[FAIL] TLS: the hub refused our client certificate (")
    assert len(failed) == 2


def test_expired_certificate_fails(mtls_sink, mtls_config, pki, capsys):
    cert, key = pki.issue(pki.authority, "old-host", days=10, start_days_ago=20)
    assert run_checks(mtls_config._replace(tls_cert=cert, tls_key=key)) == 1
    failed = lines(capsys, "[FAIL]")
    assert "[FAIL] client certificate: CN=old-host expired on" in failed[0]
    assert failed[1].startswith("[FAIL] TLS: the hub refused our client certificate (")


def test_certificate_about_to_expire_warns(mtls_sink, mtls_config, pki, capsys):
    cert, key = pki.issue(pki.authority, "soon-host", days=6)
    assert run_checks(mtls_config._replace(tls_cert=cert, tls_key=key)) == 0
    assert any("expires in 5 days" in line or "expires in 4 days" in line for line in lines(capsys, "[WARN]"))


def test_key_that_does_not_match_the_certificate_fails(mtls_sink, mtls_config, pki, capsys):
    _, other_key = pki.issue(pki.authority, "another-host")
    assert run_checks(mtls_config._replace(tls_key=other_key)) == 1
    assert any("private key:" in line and "does not belong to TLS_CERT" in line for line in lines(capsys, "[FAIL]"))


def test_hub_certificate_not_signed_by_tls_ca_fails_the_handshake(mtls_sink, mtls_config, other_ca, capsys):
    assert run_checks(mtls_config._replace(tls_ca=other_ca[2])) == 1
    assert any("TLS: the hub's certificate is not trusted" in line for line in lines(capsys, "[FAIL]"))


def test_hub_not_running_is_said_plainly(mtls_sink, mtls_config, capsys):
    mtls_sink.stop()
    assert run_checks(mtls_config) == 1
    failed = lines(capsys, "[FAIL]")
    assert failed == [f"[FAIL] connection: nothing listens on 127.0.0.1:{mtls_sink.port}; is the hub running?"]


def test_api_key_setup_passes(sink, api_config, capsys):
    assert run_checks(api_config) == 0
    out = capsys.readouterr().out
    assert "[WARN] TLS: SERVER_URL is plain http" in out
    assert "[ OK ] authentication: the hub accepted our credentials (HTTP 202)" in out


def test_wrong_api_key_fails_with_the_hubs_reason(sink, api_config, capsys):
    assert run_checks(api_config._replace(api_key="wrong")) == 1
    assert lines(capsys, "[FAIL]") == [
        "[FAIL] authentication: the hub refused our credentials (HTTP 401: Missing or unknown API key)"
    ]


def test_check_stores_no_report(sink, api_config):
    run_checks(api_config)
    assert not sink.stored
