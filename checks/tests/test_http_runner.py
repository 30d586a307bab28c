from __future__ import annotations

from checks.models import Check, CheckState
from checks.runners import http


def run(check: Check) -> tuple[str, str, float | None]:
    outcome = http.run(check)
    return outcome.state, outcome.message, outcome.latency_ms


def test_good_page_is_ok_with_latency(make_check, http_server):
    state, message, latency = run(make_check("http", f"{http_server}/good"))
    assert (state, message) == (CheckState.OK, "HTTP 200")
    assert latency is not None and latency > 0


def test_server_error_is_critical(make_check, http_server):
    state, message, _ = run(make_check("http", f"{http_server}/500"))
    assert (state, message) == (CheckState.CRITICAL, "HTTP 500")


def test_unexpected_status_is_critical(make_check, http_server):
    check = make_check("http", f"{http_server}/good", options={"expect_status": [204]})
    assert run(check)[:2] == (CheckState.CRITICAL, "HTTP 200, expected 204")


def test_expected_error_status_is_ok(make_check, http_server):
    assert run(make_check("http", f"{http_server}/500", options={"expect_status": [500]}))[0] == CheckState.OK


def test_missing_keyword_is_critical(make_check, http_server):
    check = make_check("http", f"{http_server}/wrong-keyword", options={"keyword": "all systems go"})
    state, message, _ = run(check)
    assert state == CheckState.CRITICAL
    assert "'all systems go' is not in the body" in message


def test_keyword_that_must_be_absent_is_critical_when_present(make_check, http_server):
    check = make_check(
        "http", f"{http_server}/wrong-keyword", options={"keyword": "maintenance", "keyword_absent": True}
    )
    assert run(check)[0] == CheckState.CRITICAL


def test_json_value_as_expected_is_ok(make_check, http_server):
    check = make_check("http", f"{http_server}/json", options={"json_path": "checks.0.state", "json_expected": "green"})
    assert run(check)[0] == CheckState.OK


def test_json_boolean_compares_as_written(make_check, http_server):
    check = make_check("http", f"{http_server}/json", options={"json_path": "up", "json_expected": "true"})
    assert run(check)[0] == CheckState.OK


def test_json_value_differs_is_critical(make_check, http_server):
    check = make_check("http", f"{http_server}/json", options={"json_path": "status", "json_expected": "degraded"})
    assert run(check)[:2] == (CheckState.CRITICAL, "status is 'ok', expected 'degraded'")


def test_body_that_is_not_json_is_critical(make_check, http_server):
    check = make_check("http", f"{http_server}/bad-json", options={"json_path": "status"})
    assert run(check)[:2] == (CheckState.CRITICAL, "HTTP 200, but the body is not JSON")


def test_slow_answer_times_out_critical(make_check, http_server):
    state, message, _ = run(make_check("http", f"{http_server}/slow", timeout=0.5))
    assert state == CheckState.CRITICAL
    assert "within 0.5 s" in message


def test_redirect_followed_by_default(make_check, http_server):
    assert run(make_check("http", f"{http_server}/redirect"))[:2] == (CheckState.OK, "HTTP 200")


def test_redirect_not_followed_when_asked(make_check, http_server):
    check = make_check("http", f"{http_server}/redirect", options={"follow_redirects": False, "expect_status": [200]})
    assert run(check)[:2] == (CheckState.CRITICAL, "HTTP 302, expected 200")


def test_basic_auth_is_sent(make_check, http_server):
    check = make_check("http", f"{http_server}/auth", username="user", password="s3cret")
    assert run(check)[0] == CheckState.OK


def test_bearer_token_is_sent(make_check, http_server):
    assert run(make_check("http", f"{http_server}/auth", bearer_token="tok-123"))[0] == CheckState.OK


def test_without_credentials_auth_route_fails(make_check, http_server):
    assert run(make_check("http", f"{http_server}/auth"))[:2] == (CheckState.CRITICAL, "HTTP 401")


def test_headers_are_sent(make_check, http_server):
    check = make_check(
        "http", f"{http_server}/echo-header", options={"headers": {"X-Probe": "yes-42"}, "keyword": "yes-42"}
    )
    assert run(check)[0] == CheckState.OK


def test_closed_port_is_critical(make_check, closed_port):
    state, message, _ = run(make_check("http", f"http://127.0.0.1:{closed_port}/"))
    assert state == CheckState.CRITICAL
    assert "ConnectError" in message


def test_an_untrusted_certificate_is_critical_when_verified(make_check, https_server):
    state, message, _ = run(make_check("http", f"{https_server}/good"))
    assert state == CheckState.CRITICAL
    assert "CERTIFICATE_VERIFY_FAILED" in message


def test_an_untrusted_certificate_is_accepted_when_verification_is_off(make_check, https_server):
    check = make_check("http", f"{https_server}/good", options={"verify_tls": False})
    assert run(check)[:2] == (CheckState.OK, "HTTP 200")


def test_checks_alternating_verification_each_get_their_own(make_check, https_server):
    """The TLS contexts are shared between runs (building one costs 39 ms): one per setting."""
    trusting = make_check("http", f"{https_server}/good", name="trusting", options={"verify_tls": False})
    strict = make_check("http", f"{https_server}/good", name="strict")
    assert [run(check)[0] for check in (trusting, strict, trusting)] == [
        CheckState.OK,
        CheckState.CRITICAL,
        CheckState.OK,
    ]
