""" "Add host": an operator or admin names a host; the page gives the line that installs and enrolls its agent.

The page creates the host and a one-time enrollment token, shows the token once (inside
the line), and then watches for the host's first report. The status is polled by htmx
every few seconds rather than pushed over the dashboard's WebSocket: the consumers render
host cards for the overview and host pages, and a page that waits a few minutes for one
host does not justify a new kind of push; the poll stops itself once the host is connected.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.rights import ADD_HOST, requires
from hosts import agent_dist, pki
from hosts.models import HOST_NAME_VALIDATOR, EnrollmentToken, Host, validate_tags
from metrics.latest import latest_for

POLL_SECONDS = 3


class AddHostForm(forms.Form):
    name = forms.CharField(
        max_length=63,
        validators=[HOST_NAME_VALIDATOR],
        help_text="The certificate's CN: lowercase letters, digits, '-' and '.'.",
    )
    tags = forms.CharField(required=False, max_length=400, help_text="Comma-separated, e.g. prod, web")
    hours = forms.IntegerField(label="Token valid for (hours)", min_value=1, max_value=24 * 30)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if Host.objects.filter(name=name).exists():
            raise forms.ValidationError(f"A host named {name!r} already exists.")
        return name

    def clean_tags(self) -> list[str]:
        tags = [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]
        validate_tags(tags)
        return list(dict.fromkeys(tags))


def install_lines(host: Host, token: str) -> dict[str, Any]:
    """The one-liner and the same as separate steps.

    With the hub's own server certificate (made by `certs server`, signed by the hub's CA,
    which no host trusts yet), curl pins that certificate's public key: `--pinnedpubkey`
    refuses any server without the hub's key, which is stricter than a CA check, and `-k`
    only drops the CA check a private CA cannot pass. Without a server certificate in the
    vault the hub sits behind a proxy with its own, publicly trusted one: plain curl.
    """
    base = settings.PUBLIC_URL
    pin = agent_dist.server_key_pin()
    curl = f"curl -fsSL -k --pinnedpubkey '{pin}'" if pin else "curl -fsSL"
    args = f"--token {token} --name {host.name}"
    return {
        "one_liner": f"{curl} {base}/agent/install.sh | sudo sh -s -- {args}",
        "steps": [
            f"{curl} -o install.sh {base}/agent/install.sh",
            f"{curl} -o SHA256SUMS {base}/agent/SHA256SUMS",
            "sha256sum --ignore-missing -c SHA256SUMS",
            "less install.sh",
            f"sudo sh install.sh {args}",
        ],
        "fingerprint": agent_dist.ca_fingerprint(pki.trusted_ca_certificate()),
        "pin": pin,
    }


@requires(ADD_HOST)
@require_http_methods(["GET", "POST"])
def add_host(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"nav": "add-host", "https": settings.PUBLIC_URL.startswith("https://")}
    try:
        pki.trusted_ca_certificate()
    except pki.NoCertificateAuthority:
        return render(request, "hosts/add_host.html", {**context, "no_ca": True}, status=503)
    if request.method == "GET":
        form = AddHostForm(initial={"hours": settings.ENROLLMENT_TOKEN_HOURS})
        return render(request, "hosts/add_host.html", {**context, "form": form})
    form = AddHostForm(request.POST)
    if not form.is_valid():
        return render(request, "hosts/add_host.html", {**context, "form": form}, status=400)
    data = form.cleaned_data
    with transaction.atomic():
        host = Host.objects.create(name=data["name"], tags=data["tags"])
        record, token = EnrollmentToken.issue(host, hours=data["hours"])
    # The token is shown here once and never stored in clear; a reload does not show it again.
    return render(
        request,
        "hosts/add_host.html",
        {**context, "host": host, "expires_at": record.expires_at, **install_lines(host, token), **status(host)},
        status=201,
    )


def status(host: Host) -> dict[str, Any]:
    """What the enrollment status partial shows: waiting, or connected with CPU and version."""
    latest = latest_for([host.pk]).get(host.pk) or {}
    return {
        "host": host,
        "connected": host.first_seen is not None,
        "cpu_percent": latest.get("cpu_percent"),
        "poll_seconds": POLL_SECONDS,
    }


@requires(ADD_HOST)
@require_GET
def enrollment_status(request: HttpRequest, name: str) -> HttpResponse:
    host = get_object_or_404(Host, name=name)
    return render(request, "hosts/_enrollment_status.html", status(host))
