"""Host cards and table rows rendered once per change of their host, not once per page view.

The overview with hundreds of hosts spent most of its time in the template engine, rendering
the same cards again for every viewer and every reload. Each fragment is kept in Django's cache
(locmem, or Redis with REDIS_URL) under the host's id, with a digest of everything it shows;
a page reads all of them with one `get_many`, renders only those whose digest changed, and
writes those back with one `set_many`.

One entry per host and kind, overwritten when the host changes: a key per version would leave
a fragment behind in Redis for every report (thousands a minute with a large fleet).

What changes without a report is in the digest too: the status (computed from the clock),
the certificate's days left, the hub's agent version. "last seen N s ago" changes every second,
so it is not in the fragment at all: the cached HTML holds a marker that is replaced with the
current wording on the way out (and the browser counts on from there).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from dashboard.cards import cards
from dashboard.templatetags.dashboard import ago
from hosts import agent_dist

# The template each kind renders and the templates it includes: their source is in the digest,
# so a deploy that changes how a card looks never serves the old one from a shared cache.
TEMPLATES = {
    "card": ("hosts/_host_card.html", "hosts/_gauges.html"),
    "row": ("hosts/_host_row.html",),
}
# Autoescaping turns every "<" of a host's own text into "&lt;": no name or description can
# contain this marker, so replacing it cannot touch anything the host supplied.
SEEN_AGO = mark_safe("<!--seen-ago-->")
# Entries are overwritten on change; the timeout only lets removed hosts' entries go.
FRAGMENT_SECONDS = 24 * 3600


def cache_key(kind: str, oob: bool, host_id: int) -> str:
    return f"fragment:{kind}{'-oob' if oob else ''}:{host_id}"


@functools.cache
def template_version(kind: str) -> str:
    sources = "\0".join(get_template(name).template.source for name in TEMPLATES[kind])  # type: ignore[attr-defined]
    return hashlib.sha1(sources.encode(), usedforsecurity=False).hexdigest()[:12]


def digest(kind: str, described: dict[str, Any], hub_agent: str) -> str:
    """Everything the fragment shows, in a few bytes: equal digests render equal HTML."""
    latest = described["latest"] or {}
    shown = (
        template_version(kind),
        described["name"],
        described["display_name"],
        described["status"],
        described["last_seen"].isoformat() if described["last_seen"] else "",
        # One report's metrics: a report is stored once per (host, time), so its time names it.
        str(latest.get("collected_at", "")),
        described["active_alerts"],
        described.get("certificate_days_left"),
        described["system"]["cpu_count"],
        described["system"]["agent_version"],
        hub_agent,
        settings.CPU_THRESHOLD,
        settings.MEMORY_THRESHOLD,
        settings.DISK_THRESHOLD,
    )
    return hashlib.sha1(repr(shown).encode(), usedforsecurity=False).hexdigest()


def render_fragments(described: list[dict[str, Any]], kind: str, oob: bool = False) -> list[SafeString]:
    """Each described host's card or row (`kind`), in order, from the cache where still current.

    `oob`: the live push's variant, swapped by htmx into every copy of the host on the page.
    """
    hub_agent = agent_dist.agent_version()
    keys = [cache_key(kind, oob, d["id"]) for d in described]
    digests = [digest(kind, d, hub_agent) for d in described]
    cached = cache.get_many(keys)
    html: dict[str, str] = {}
    stale = {}  # by key: a grouped page may show a host twice, rendered once
    for key, current, host in zip(keys, digests, described, strict=True):
        entry = cached.get(key)
        if entry is not None and entry[0] == current:
            html[key] = entry[1]
        else:
            stale[key] = (key, current, host)
    if stale:
        template = TEMPLATES[kind][0]
        fresh = {}
        for (key, current, _host), card in zip(stale.values(), cards([h for _, _, h in stale.values()]), strict=True):
            html[key] = render_to_string(template, {"host": {**card, "seen_ago": SEEN_AGO}, "oob": oob})
            fresh[key] = (current, html[key])
        cache.set_many(fresh, timeout=FRAGMENT_SECONDS)
    now = timezone.now()
    return [
        mark_safe(html[key].replace(SEEN_AGO, ago(host["last_seen"], now)))  # noqa: S308 (rendered, escaped HTML)
        for key, host in zip(keys, described, strict=True)
    ]
