"""statusdash/lib/cursor.py: opaque cursors of (sort key, id) and pages after them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ninja.errors import ValidationError

from hosts.models import Host
from statusdash.lib import cursor


@pytest.mark.parametrize("value", ["web-1", 42, datetime(2026, 12, 3, 18, 0, 0, 123456, tzinfo=UTC)])
def test_a_cursor_decodes_to_what_it_encodes(value):
    assert cursor.decode(cursor.encode(value, 7)) == (value, 7)


@pytest.mark.parametrize(
    "forged", ["", "!!!", "bm9wZQ", cursor.encode("x", 1)[:-3], "WyJ2IiwgbnVsbCwgMV0", "WyJ2IiwieCIsdHJ1ZV0"]
)
def test_a_forged_cursor_is_refused(forged):
    with pytest.raises(cursor.InvalidCursor):
        cursor.decode(forged)


@pytest.mark.django_db
def test_pages_walk_the_rows_once_in_order():
    for name in ("e", "a", "c", "b", "d"):
        Host.objects.create(name=name)
    seen, after = [], None
    while True:
        rows, after = cursor.page(
            Host.objects.all(), key="name", descending=False, query=cursor.PageQuery(limit=2, cursor=after)
        )
        seen += [h.name for h in rows]
        if after is None:
            break
    assert seen == ["a", "b", "c", "d", "e"]


@pytest.mark.django_db
def test_a_full_last_page_has_no_next_cursor():
    for name in ("a", "b"):
        Host.objects.create(name=name)
    rows, after = cursor.page(Host.objects.all(), key="name", descending=True, query=cursor.PageQuery(limit=2))
    assert [h.name for h in rows] == ["b", "a"] and after is None


@pytest.mark.django_db
def test_a_bad_cursor_in_a_page_is_a_422_naming_it():
    with pytest.raises(ValidationError) as refused:
        cursor.page(Host.objects.all(), key="name", descending=False, query=cursor.PageQuery(cursor="nope"))
    assert refused.value.errors[0]["loc"] == ["query", "cursor"]
