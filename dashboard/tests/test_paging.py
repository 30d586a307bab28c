"""The overview a page at a time: page sizes, links keeping the filter, bad pages refused naming the field."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dashboard import paging
from hosts.models import Host

pytestmark = pytest.mark.django_db


@pytest.fixture
def many() -> None:
    seen = timezone.now() - timedelta(seconds=5)
    Host.objects.bulk_create(
        [Host(name=f"h-{i:03d}", last_seen=seen, tags=["odd" if i % 2 else "even"]) for i in range(250)]
    )


def names(html: str) -> list[str]:
    return re.findall(r'data-host="([^"]+)"', html)


def test_the_table_shows_a_hundred_rows_a_page(viewer_client: Client, many: None) -> None:
    first = viewer_client.get("/?view=table").content.decode()
    assert names(first) == [f"h-{i:03d}" for i in range(100)]
    assert "page 1 of 3" in first and "data-paged" in first
    last = viewer_client.get("/?view=table&page=3").content.decode()
    assert names(last) == [f"h-{i:03d}" for i in range(200, 250)]
    assert 'rel="next"' not in last and 'href="?view=table&amp;page=2" rel="prev"' in last


def test_cards_come_fewer_a_page(viewer_client: Client, many: None) -> None:
    html = viewer_client.get("/?view=cards&page=2").content.decode()
    assert names(html) == [f"h-{i:03d}" for i in range(48, 96)]


def test_page_links_keep_the_filter_and_sort(viewer_client: Client, many: None) -> None:
    html = viewer_client.get("/?view=table&tag=odd&sort=-name").content.decode()
    assert names(html)[:2] == ["h-249", "h-247"]
    assert 'href="?view=table&amp;tag=odd&amp;sort=-name&amp;page=2" rel="next"' in html
    # Changing the sort or the view starts again at page 1.
    html = viewer_client.get("/?view=table&tag=odd&page=2").content.decode()
    assert 'href="?view=table&amp;tag=odd&amp;sort=cpu"' in html
    assert 'href="?view=cards&amp;tag=odd"' in html


def test_a_single_page_has_no_pager(viewer_client: Client) -> None:
    Host.objects.create(name="only")
    html = viewer_client.get("/").content.decode()
    assert 'class="pager"' not in html and "data-paged" not in html


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-3", "Ensure this value is greater than or equal to 1."),
        ("two", "Enter a whole number."),
        ("1.5", "Enter a whole number."),
        ("4", "page must be between 1 and 3"),
        ("99999999999999999999999", "page must be between 1 and 3"),
    ],
)
def test_a_bad_page_is_refused_naming_the_field(viewer_client: Client, many: None, page: str, message: str) -> None:
    response = viewer_client.get(f"/?view=table&page={page}")
    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r"<li>page<ul class=\"errorlist[^\"]*\"[^>]*><li>" + re.escape(message), html), html[-3000:]


def test_a_grouped_page_says_a_group_goes_on_from_the_last(viewer_client: Client, many: None) -> None:
    html = viewer_client.get("/?view=table&group=tag&page=2").content.decode()
    summary = html[html.index('data-group="even" open>') :]
    assert "(continued)" in summary[: summary.index("</summary>")]
    odd = html[html.index('data-group="odd" open>') :]
    assert "(continued)" not in odd[: odd.index("</summary>")]
    assert html.count("<details") == 2  # 125 even hosts: page 2 has the last 25 of them, then odd


def test_window_bounds() -> None:
    assert paging.window(0, 1, 100) == paging.Window(number=1, pages=1, start=0, end=0)
    assert paging.window(201, 3, 100) == paging.Window(number=3, pages=3, start=200, end=201)
    with pytest.raises(paging.PageOutOfRange, match="between 1 and 3"):
        paging.window(201, 4, 100)
