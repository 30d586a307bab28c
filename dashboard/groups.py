"""The overview grouped by tag: a group per tag, a host in each of its tags' groups, untagged hosts last.

A group's status is its worst host's and the count per status, over all of the group's hosts
(a filter narrows the list, not what the group is): the same figures whichever filter a
viewer has, so one push can redraw every open page's header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from hosts.models import Host, HostStatus

UNTAGGED = ""
_WORST_FIRST = ("offline", "stale", "online")


def dom_key(tag: str) -> str:
    """A tag as part of an id: tags may hold any character, ids are better without."""
    return "untagged" if tag == UNTAGGED else "t" + hashlib.sha1(tag.encode(), usedforsecurity=False).hexdigest()[:10]


def group_tags(host: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(host["tags"])) or [UNTAGGED]


def summary(tag: str, statuses: Iterable[str]) -> dict[str, Any]:
    """A group's header: its worst status and how many hosts are in each."""
    counts = HostStatus.tally(statuses)
    worst = next((status for status in _WORST_FIRST if counts.get(status)), "online")
    return {
        "tag": tag,
        "label": tag if tag != UNTAGGED else "untagged",
        "key": dom_key(tag),
        "worst": worst,
        "counts": [(status, counts[status]) for status in _WORST_FIRST if counts.get(status)],
        "total": sum(counts.values()),
    }


def summaries(hosts: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every group's header, from described hosts (anything with "tags" and "status"), by tag."""
    statuses: dict[str, list[str]] = {}
    for host in hosts:
        for tag in group_tags(host):
            statuses.setdefault(tag, []).append(host["status"])
    return {tag: summary(tag, found) for tag, found in statuses.items()}


def group(shown: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """(tag, hosts) per tag in name order, untagged last; each keeps the order of `shown`."""
    members: dict[str, list[dict[str, Any]]] = {}
    for host in shown:
        for tag in group_tags(host):
            members.setdefault(tag, []).append(host)
    return sorted(members.items(), key=lambda item: (item[0] == UNTAGGED, item[0].lower(), item[0]))


def current_summaries() -> dict[str, dict[str, Any]]:
    """Every group's header now, from one narrow query: what a status push redraws."""
    now = timezone.now()
    hosts = Host.objects.only("id", "tags", "last_seen")
    return summaries({"tags": host.tags, "status": host.status(now)} for host in hosts)
