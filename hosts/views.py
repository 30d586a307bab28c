from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hosts.cards import thresholds
from hosts.models import Host
from hosts.overview import describe_hosts, overall_sentiment


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    hosts = list(Host.objects.all())
    return render(
        request,
        "hosts/overview.html",
        {
            "hosts": describe_hosts(hosts),
            "sentiment": overall_sentiment([h for h in hosts if h.enabled]),
            "thresholds": thresholds(),
        },
    )
