"""hosts/identity.py: who is reporting, from the TLS scope, a trusted proxy's headers, or an API key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests
import time_machine
from django.conf import settings
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

from conftest import hub_env
from hosts import identity, pki
from hosts.identity import IdentityRefused, identify_agent
from hosts.models import ApiKey, ApiKeyScope, Certificate, CredentialGeneration, Host
from hosts.tests.conftest import CertMaker, ClientFiles
from statusdash.tests.support import BASE_DIR, sample_report

pytestmark = pytest.mark.django_db


def tls_request(files: ClientFiles | None, error: str | None = None) -> HttpRequest:
    request = RequestFactory().post("/api/metrics/report")
    chain = [pki.cert_pem(files.certificate)] if files else []
    request.scope = {"extensions": {"tls": {"client_cert_chain": chain, "client_cert_error": error}}}  # type: ignore[attr-defined]
    return request


def proxied_request(files: ClientFiles | None, remote: str, verify: str = "SUCCESS", **headers: str) -> HttpRequest:
    if files is not None:
        headers.setdefault("HTTP_X_SSL_CLIENT_CERT", quote(pki.cert_pem(files.certificate)))
        headers.setdefault("HTTP_X_SSL_CLIENT_S_DN", files.certificate.subject.rfc4514_string())
    return RequestFactory().post("/api/metrics/report", REMOTE_ADDR=remote, HTTP_X_SSL_CLIENT_VERIFY=verify, **headers)


def refusal(request: HttpRequest) -> IdentityRefused:
    with pytest.raises(IdentityRefused) as caught:
        identify_agent(request)
    return caught.value


@pytest.fixture
def mtls(settings: Any) -> None:
    settings.MTLS_ENABLED = True
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]


def test_a_good_certificate_from_the_tls_scope_names_the_host(certs: CertMaker, cert_host: Host, mtls: None) -> None:
    identity = identify_agent(tls_request(certs.client("agent-1")))
    assert (identity.host, identity.method) == (cert_host, "certificate")
    assert identity.certificate is not None and identity.certificate.common_name == "agent-1"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        ("foreign", "signature does not verify against this hub's CA"),
        ("other_ca", "not issued by this hub's CA"),
        ("expired", "expired at"),
        ("not_yet_valid", "not valid until"),
        ("revoked", "revoked at"),
    ],
)
def test_a_bad_certificate_is_refused_with_its_reason(
    certs: CertMaker, cert_host: Host, mtls: None, make: str, reason: str
) -> None:
    refused = refusal(tls_request(getattr(certs, make)("agent-1")))
    assert refused.status == 403
    assert reason in refused.reason


def test_a_certificate_for_an_unknown_host_is_refused(certs: CertMaker, mtls: None) -> None:
    refused = refusal(tls_request(certs.client("ghost")))
    assert (refused.status, refused.reason) == (403, "certificate CN 'ghost' is not a known host")


def test_a_certificate_for_a_disabled_host_is_refused(certs: CertMaker, cert_host: Host, mtls: None) -> None:
    files = certs.client("agent-1")
    Host.objects.filter(pk=cert_host.pk).update(enabled=False)
    assert refusal(tls_request(files)).reason == "host 'agent-1' is disabled"


def test_openssl_complaint_still_refuses_a_certificate_we_accept(certs: CertMaker, cert_host: Host, mtls: None) -> None:
    refused = refusal(tls_request(certs.client("agent-1"), error="unsuitable certificate purpose"))
    assert refused.reason == "client certificate refused: unsuitable certificate purpose"


def test_no_certificate_with_mtls_is_refused(mtls: None, db: Any) -> None:
    refused = refusal(tls_request(None))
    assert (refused.status, refused.reason) == (401, "a client certificate is required")


def test_an_api_key_with_mtls_is_refused_saying_a_certificate_is_required(agent_key: str, mtls: None) -> None:
    request = RequestFactory().post("/api/metrics/report", HTTP_AUTHORIZATION=f"Bearer {agent_key}")
    refused = refusal(request)
    assert refused.status == 401
    assert "client certificate is required" in refused.reason


def test_a_trusted_proxy_forwarding_a_good_certificate_is_believed(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    identity = identify_agent(proxied_request(certs.client("agent-1"), remote="10.0.0.7"))
    assert (identity.host, identity.method) == (cert_host, "certificate")


def test_a_trusted_proxy_forwarding_a_revoked_certificate_is_rechecked(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    # The proxy only checks the CA signature; revocation is ours to enforce.
    assert "revoked" in refusal(proxied_request(certs.revoked("agent-1"), remote="10.0.0.7")).reason


def test_a_trusted_proxy_forwarding_a_forged_certificate_is_rechecked(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    assert "signature does not verify" in refusal(proxied_request(certs.foreign("agent-1"), remote="10.0.0.7")).reason


def test_a_proxy_verification_failure_is_passed_on(certs: CertMaker, cert_host: Host, mtls: None) -> None:
    refused = refusal(
        proxied_request(certs.client("agent-1"), remote="10.0.0.7", verify="FAILED:certificate has expired")
    )
    assert refused.reason == "client certificate refused by the proxy: FAILED:certificate has expired"


def test_a_proxy_saying_none_means_no_certificate(mtls: None, db: Any) -> None:
    refused = refusal(proxied_request(None, remote="10.0.0.7", verify="NONE"))
    assert refused.reason == "a client certificate is required"


def test_a_mangled_forwarded_certificate_is_a_400_naming_the_header(mtls: None, db: Any) -> None:
    refused = refusal(proxied_request(None, remote="10.0.0.7", HTTP_X_SSL_CLIENT_CERT="garbage"))
    assert (refused.status, refused.reason) == (400, "X-SSL-Client-Cert: not a PEM or DER X.509 certificate")


def test_forged_headers_from_an_untrusted_address_are_refused_with_mtls(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    refused = refusal(proxied_request(certs.client("agent-1"), remote="192.0.2.9"))
    assert refused.status == 403
    assert "192.0.2.9 are ignored" in refused.reason and "TRUSTED_PROXIES" in refused.reason


def test_forged_headers_without_mtls_are_ignored_in_favour_of_the_api_key(
    certs: CertMaker, host: Host, agent_key: str, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = []
    Host.objects.create(name="agent-1")
    request = proxied_request(certs.client("agent-1"), remote="192.0.2.9", HTTP_AUTHORIZATION=f"Bearer {agent_key}")
    identity = identify_agent(request)
    assert (identity.host, identity.method) == (host, "api_key")


def test_a_malformed_trusted_proxy_stops_start_up(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    from statusdash.tests.support import BASE_DIR

    environment = {
        "PATH": os.environ["PATH"],
        "DATA_DIR": str(tmp_path),
        "ENV_FILE": str(tmp_path / "none"),
        "TRUSTED_PROXIES": "10.0.0.1,nginx.local",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import statusdash.settings"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: 'nginx.local' is not an IP address or CIDR network" in result.stderr


def test_an_accepted_certificate_revoked_later_is_refused_at_once(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    files = certs.client("agent-1")
    identify_agent(tls_request(files))
    Certificate.objects.get(serial=pki.serial_hex(files.certificate)).revoke("stolen")
    assert "revoked" in refusal(tls_request(files)).reason


def test_an_accepted_certificate_of_a_host_disabled_later_is_refused(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    files = certs.client("agent-1")
    identify_agent(tls_request(files))
    cert_host.enabled = False
    cert_host.save()
    assert refusal(tls_request(files)).reason == "host 'agent-1' is disabled"


def test_an_accepted_certificate_is_refused_once_it_expires(certs: CertMaker, cert_host: Host, mtls: None) -> None:
    files = certs.client("agent-1", days=1)
    identify_agent(tls_request(files))
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert "expired" in refusal(tls_request(files)).reason


def test_a_remembered_certificate_is_refused_the_second_after_it_expires(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    files = certs.client("agent-1", days=1)
    identify_agent(tls_request(files))  # accepted, and remembered for AUTH_CACHE_SECONDS
    with time_machine.travel(files.certificate.not_valid_after_utc + timedelta(seconds=1)):
        assert "expired" in refusal(tls_request(files)).reason


def test_a_certificate_of_a_deleted_host_does_not_identify_a_new_host_of_that_name(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    files = certs.client("agent-1")
    cert_host.delete()
    Host.objects.create(name="agent-1")
    refused = refusal(tls_request(files))
    assert refused.status == 403 and "revoked" in refused.reason


def test_deleting_a_host_revokes_its_certificates(certs: CertMaker, cert_host: Host, mtls: None) -> None:
    certs.client("agent-1")
    cert_host.delete()
    record = Certificate.objects.get(common_name="agent-1")
    assert record.revoked_at is not None and record.revocation_reason == "host agent-1 deleted"


def test_renaming_a_host_revokes_its_certificates(certs: CertMaker, cert_host: Host, mtls: None) -> None:
    files = certs.client("agent-1")
    cert_host.name = "agent-9"
    cert_host.save()
    assert Certificate.objects.get(common_name="agent-1").revocation_reason == "host renamed from agent-1 to agent-9"
    Host.objects.create(name="agent-1")  # whoever takes the old name
    assert refusal(tls_request(files)).status == 403


def test_saving_a_host_without_renaming_it_revokes_nothing(certs: CertMaker, cert_host: Host, mtls: None) -> None:
    files = certs.client("agent-1")
    host = Host.objects.get(pk=cert_host.pk)
    host.display_name = "Agent one"
    host.save()
    assert identify_agent(tls_request(files)).host == cert_host


def test_a_certificate_recorded_for_no_host_is_refused_even_when_its_cn_exists_now(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    # Records left by a host deleted before deletion revoked anything.
    files = certs.client("agent-1")
    Certificate.objects.filter(common_name="agent-1").update(host=None)
    refused = refusal(tls_request(files))
    assert (refused.status, refused.reason) == (
        403,
        "certificate was issued for a host 'agent-1' that was deleted since; enroll again",
    )


def test_a_certificate_whose_host_row_was_renamed_behind_our_back_is_refused(
    certs: CertMaker, cert_host: Host, mtls: None
) -> None:
    files = certs.client("agent-1")
    Host.objects.filter(pk=cert_host.pk).update(name="agent-2")  # update() bypasses save(): nothing revoked
    assert "renamed 'agent-2'" in refusal(tls_request(files)).reason


@pytest.mark.slow
def test_a_key_revoked_from_the_command_line_is_refused_by_the_running_hub_within_a_second(
    live_hub: str, tmp_path: Any
) -> None:
    host = Host.objects.create(name="web-1")
    key, raw = ApiKey.issue(ApiKeyScope.AGENT, host=host)
    report = sample_report(datetime.now(UTC))

    def send() -> int:
        return requests.post(
            f"{live_hub}/api/metrics/report", json=report, headers={"X-API-Key": raw}, timeout=10
        ).status_code

    assert send() == 202  # the hub now holds the key in its cache
    revoked = subprocess.run(
        [sys.executable, "manage.py", "apikey", "revoke", key.prefix],
        cwd=BASE_DIR,
        env={**os.environ, **hub_env(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert revoked.returncode == 0, revoked.stderr
    time.sleep(1.0)  # the promise: the next report after the command returns, plus one second at most
    report["collected_at"] = datetime.now(UTC).isoformat()
    assert send() == 403


def test_a_change_made_in_another_process_empties_the_caches(
    certs: CertMaker, cert_host: Host, mtls: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = certs.client("agent-1")
    assert identify_agent(tls_request(files)).host == cert_host  # cached now
    # What another process's revocation leaves behind: the row and the generation, no signal here.
    Certificate.objects.filter(common_name="agent-1").update(revoked_at=timezone.now())
    CredentialGeneration.bump()
    assert identify_agent(tls_request(files)).host == cert_host  # still cached within the check interval
    monkeypatch.setattr(identity, "_generation_checked_at", time.monotonic() - settings.CREDENTIAL_CHECK_SECONDS)
    assert "revoked" in refusal(tls_request(files)).reason
