import gzip
import json
import random
import socket
import time
from email.utils import formatdate

import pytest

from agent.transport import Backoff, Transport, encode

REPORT = {"collected_at": "2026-11-28T04:50:00.123456+00:00", "cpu": {"percent": 1.0}}


def test_report_is_sent_gzipped_with_the_api_key(sink, api_config):
    outcome = Transport(api_config).send(encode(REPORT))
    assert (outcome.ok, outcome.status, outcome.accepted, outcome.duplicates) == (True, 202, 1, 0)
    request = sink.requests[-1]
    assert request["headers"]["Content-Encoding"] == "gzip"
    assert request["headers"]["Authorization"] == "Bearer test-key"
    assert json.loads(request["body"]) == REPORT


def test_resent_report_counts_as_a_duplicate_and_is_success(sink, api_config):
    transport = Transport(api_config)
    transport.send(encode(REPORT))
    outcome = transport.send(encode(REPORT))
    assert outcome.ok and outcome.duplicates == 1 and len(sink.stored) == 1


def test_batch_uses_the_hubs_batch_form(sink, api_config):
    reports = [dict(REPORT, collected_at=f"2026-11-28T04:50:0{i}+00:00") for i in range(3)]
    outcome = Transport(api_config).send(encode(reports))
    assert outcome.accepted == 3
    assert json.loads(sink.requests[-1]["body"]) == {"reports": reports}


def test_one_session_keeps_the_connection_alive(sink, api_config):
    transport = Transport(api_config)
    for second in range(3):
        transport.send(encode(dict(REPORT, collected_at=f"2026-11-28T04:50:0{second}+00:00")))
    assert len({r["peer"] for r in sink.requests}) == 1


def test_mtls_report_is_authenticated_by_client_certificate(mtls_sink, mtls_config, monkeypatch):
    # A CA bundle in the environment must not replace TLS_CA (requests lets it by default).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    outcome = Transport(mtls_config).send(encode(REPORT))
    assert outcome.ok and outcome.accepted == 1


def test_mtls_without_client_certificate_fails_and_is_retryable(mtls_sink, mtls_config):
    outcome = Transport(mtls_config._replace(mtls_enabled=False, api_key="x")).send(encode(REPORT))
    assert not outcome.ok and outcome.retry and outcome.status is None


def test_unreachable_hub_is_retryable(sink, api_config):
    sink.stop()
    outcome = Transport(api_config).send(encode(REPORT))
    assert (outcome.ok, outcome.retry, outcome.status) == (False, True, None)
    assert "ConnectionError" in outcome.detail


def test_slow_hub_times_out_and_is_retryable(api_config):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts, never answers
    cfg = api_config._replace(server_url=f"http://127.0.0.1:{listener.getsockname()[1]}", request_timeout=0.3)
    started = time.monotonic()
    outcome = Transport(cfg).send(encode(REPORT))
    listener.close()
    assert outcome.retry and "Timeout" in outcome.detail
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(sink, api_config, status):
    sink.answer_next(status, {"detail": "database is locked"})
    outcome = Transport(api_config).send(encode(REPORT))
    assert (outcome.ok, outcome.retry, outcome.status, outcome.detail) == (False, True, status, "database is locked")


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_read_on_429_and_503(sink, api_config, status):
    sink.answer_next(status, {"detail": "slow down"}, {"Retry-After": "7"})
    outcome = Transport(api_config).send(encode(REPORT))
    assert outcome.retry and outcome.retry_after == 7


def test_retry_after_http_date_is_read(sink, api_config):
    sink.answer_next(429, {"detail": "slow down"}, {"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    outcome = Transport(api_config).send(encode(REPORT))
    assert 25 <= outcome.retry_after <= 30


def test_wrong_api_key_is_rejected_with_the_hubs_reason(sink, api_config):
    outcome = Transport(api_config._replace(api_key="wrong")).send(encode(REPORT))
    assert (outcome.ok, outcome.retry, outcome.refused) == (False, False, True)
    assert outcome.detail == "Missing or unknown API key"


def test_revoked_credentials_are_not_retryable(sink, api_config):
    sink.answer_next(403, {"detail": "Host is disabled"})
    outcome = Transport(api_config).send(encode(REPORT))
    assert (outcome.retry, outcome.refused, outcome.detail) == (False, True, "Host is disabled")


def test_invalid_report_is_not_retryable_and_names_the_field(sink, api_config):
    outcome = Transport(api_config).send(encode({"collected_at": "2026-11-28T04:50:00+00:00"}))
    assert (outcome.status, outcome.retry, outcome.bad_report, outcome.refused) == (422, False, True, False)
    assert outcome.detail == "body.reports.0.collected_at: Field required"


def test_wrong_url_is_refused_not_a_bad_report(sink, api_config):
    outcome = Transport(api_config._replace(server_url=sink.url + "/nothing-here")).send(encode(REPORT))
    assert (outcome.status, outcome.retry, outcome.refused, outcome.bad_report) == (404, False, True, False)


def test_retry_after_beyond_the_backoff_cap_is_still_honoured():
    assert Backoff(base=1, cap=60).next_delay(retry_after=120) >= 120


def test_error_body_that_is_not_json_is_kept_as_text(sink, api_config):
    sink.answer_next(502, "<html>Bad gateway</html>")
    outcome = Transport(api_config).send(encode(REPORT))
    assert outcome.retry and "Bad gateway" in outcome.detail


def test_encode_refuses_nan():
    with pytest.raises(ValueError):
        encode({"cpu": {"percent": float("nan")}})


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    backoff = Backoff(base=1, cap=30, rng=random.Random(4))
    delays = [backoff.next_delay() for _ in range(8)]
    for n, delay in enumerate(delays):
        step = min(30, 2**n)
        assert step / 2 <= delay <= step
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_backoff_honours_retry_after_as_a_floor():
    backoff = Backoff(base=1, cap=300)
    assert backoff.next_delay(retry_after=42) >= 42


def test_gzip_body_is_smaller_than_the_json(sink, api_config):
    body = encode([dict(REPORT, collected_at=f"2026-11-28T04:{m:02d}:00+00:00") for m in range(50)])
    assert len(gzip.compress(body)) < len(body) / 4
