"""The host page's charts in a real browser: the axis, gaps, single points, and the figures beside them.

As in test_browser.py: the database is prepared first, then the browser talks to a real
Daphne over HTTP only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from dashboard.tests.test_browser import chromium, live, log_in, make_fleet, post, report

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The memory chart's "memory" line (the first colour of static/js/charts.js' palette); the
# CPU chart's total is hidden under its peak where both are the same.
BLUE = (0x3B, 0x82, 0xF6)

# Pixels of the memory line's colour in the plot area between two times (seconds), as the page drew them.
BLUE_PIXELS_BETWEEN = """([t0, t1, rgb]) => {
  const el = document.querySelector('#chart-memory');
  const over = el.querySelector('.u-over'), canvas = el.querySelector('canvas');
  const min = +el.dataset.xMin, max = +el.dataset.xMax;
  const ratio = canvas.width / canvas.getBoundingClientRect().width;
  const left = over.offsetLeft * ratio, width = over.offsetWidth * ratio;
  const x0 = Math.max(0, Math.floor(left + (t0 - min) / (max - min) * width));
  const x1 = Math.min(canvas.width, Math.ceil(left + (t1 - min) / (max - min) * width));
  if (x1 <= x0) return 0;
  const d = canvas.getContext('2d').getImageData(x0, 0, x1 - x0, canvas.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4)
    if (d[i + 3] > 100 && Math.abs(d[i] - rgb[0]) < 40 && Math.abs(d[i + 1] - rgb[1]) < 40 && Math.abs(d[i + 2] - rgb[2]) < 40) n++;
  return n;
}"""


def open_host(page: Page, base_url: str, query: str = "") -> None:
    log_in(page, base_url)
    page.goto(f"{base_url}/hosts/web-1/{query}")
    expect(page.locator("#chart-memory canvas")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#chart-memory').dataset.xMax")


def blue_between(page: Page, t0: float, t1: float) -> int:
    return page.evaluate(BLUE_PIXELS_BETWEEN, [t0, t1, list(BLUE)])


def test_one_report_draws_a_point_on_an_axis_spanning_the_hour_to_now(live_hub: str) -> None:
    keys = make_fleet()
    # Forty seconds old: the axis must still end now, not at the newest point.
    post(live_hub, keys["web-1"], report(datetime.now(UTC) - timedelta(seconds=40), "web-1", cpu=40.0))
    with chromium() as browser:
        page = browser.new_page()
        open_host(page, live_hub, "?range=1h")
        now = datetime.now(UTC).timestamp()
        chart = page.locator("#chart-memory")
        x_min, x_max = float(chart.get_attribute("data-x-min") or 0), float(chart.get_attribute("data-x-max") or 0)
        assert x_max - x_min == 3600
        assert abs(x_max - now) < 10
        # The one report is a dot near the right edge, not an empty chart.
        assert blue_between(page, now - 120, now + 60) > 10


def test_a_ten_minute_silence_in_the_hour_shows_as_a_gap(live_hub: str) -> None:
    keys = make_fleet()
    now = datetime.now(UTC)
    silent = range(20 * 2, 30 * 2)  # reports every 30 s; none from 30 to 20 minutes ago
    reports = [
        report(now - timedelta(seconds=30 * i), "web-1", cpu=50.0) for i in range(118, -1, -1) if i not in silent
    ]
    post(live_hub, keys["web-1"], {"reports": reports})
    with chromium() as browser:
        page = browser.new_page()
        open_host(page, live_hub, "?range=1h")
        start, end = (now - timedelta(minutes=29)).timestamp(), (now - timedelta(minutes=21)).timestamp()
        assert blue_between(page, start, end) == 0
        # The line is there on both sides of the gap.
        assert (
            blue_between(page, (now - timedelta(minutes=50)).timestamp(), (now - timedelta(minutes=35)).timestamp())
            > 50
        )
        assert (
            blue_between(page, (now - timedelta(minutes=15)).timestamp(), (now - timedelta(minutes=2)).timestamp()) > 50
        )


def summary_cpu(page: Page) -> str:
    return page.locator("#host-summary .cpu .value").inner_text()


def table_now(page: Page) -> str:
    return page.locator("#chart-cpu ~ table tr[data-series=total] td[data-stat=now]").inner_text()


def test_the_cpu_now_figure_matches_the_summary_and_moves_with_a_pushed_report(live_hub: str) -> None:
    keys = make_fleet()
    now = datetime.now(UTC)
    # Reports every 20 s over a day: each 24 h step (144 s) averages several of them.
    cpus = [10.0 + (i % 7) * 10 for i in range(0, 24 * 180)]
    reports = [report(now - timedelta(seconds=20 * i), "web-1", cpu=cpu) for i, cpu in reversed(list(enumerate(cpus)))]
    for start in range(0, len(reports), 500):
        post(live_hub, keys["web-1"], {"reports": reports[start : start + 500]})
    with chromium() as browser:
        page = browser.new_page()
        open_host(page, live_hub, "?range=24h")
        assert summary_cpu(page) == "10.0%"
        assert table_now(page) == summary_cpu(page)
        live(page)
        post(live_hub, keys["web-1"], report(datetime.now(UTC), "web-1", cpu=77.7))
        expect(page.locator("#host-summary .cpu .value")).to_have_text("77.7%", timeout=2000)
        expect(page.locator("#chart-cpu ~ table tr[data-series=total] td[data-stat=now]")).to_have_text("77.7%")
        # The report joined the chart's data too: the peak over the range is now this report.
        expect(page.locator("#chart-cpu ~ table tr[data-series=peak] td[data-stat=max]")).to_have_text("77.7%")


def test_zoom_and_hovered_time_are_in_the_url_and_a_link_shows_the_same_view(live_hub: str) -> None:
    keys = make_fleet()
    now = datetime.now(UTC)
    post(
        live_hub,
        keys["web-1"],
        {"reports": [report(now - timedelta(seconds=30 * i), "web-1") for i in range(119, -1, -1)]},
    )
    with chromium() as browser:
        page = browser.new_page()
        open_host(page, live_hub, "?range=1h")
        box = page.locator("#chart-cpu .u-over").bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] * 0.25, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
        page.mouse.up()
        page.mouse.move(box["x"] + box["width"] * 0.4, y)
        page.wait_for_url("**/hosts/web-1/?*from=*t=*")
        x_min, x_max = (
            page.locator("#chart-memory").get_attribute("data-x-min"),
            page.locator("#chart-memory").get_attribute("data-x-max"),
        )
        assert 800 < int(x_max or 0) - int(x_min or 0) < 1000  # about a quarter of the hour, on every chart
        shared = page.url

        other = browser.new_page()
        open_host(other, live_hub, shared.split("/hosts/web-1/")[1])
        assert other.locator("#chart-cpu").get_attribute("data-x-min") == x_min
        assert other.locator("#chart-cpu").get_attribute("data-x-max") == x_max
        # The hovered time's values are in the legend, as they were for the one who shared it.
        expect(other.locator("#chart-cpu .u-legend .u-series").first.locator(".u-value")).not_to_have_text("--")
