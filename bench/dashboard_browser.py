"""The overview of a large fleet in a real browser: time to first render and to interactive, and
the main thread's time per live update.

    .venv/bin/python bench/dashboard_browser.py --hosts 2000 --loads 10 --updates 40

Builds a fresh SQLite database under a temporary DATA_DIR with `--hosts` hosts (a minute of
samples each), starts the hub as it runs (Daphne, statusdash.lib.server) and opens the
overview in Debian's chromium (headless, through Playwright; never a downloaded browser).

- Loads: the overview as the table, as cards and grouped by tag, `--loads` times each
  (the page's own Navigation Timing): first contentful paint, DOMContentLoaded (the
  page's scripts have run: it responds to input), the load event, and the WebSocket open
  (live from then on).
- Updates: reports for hosts on the open page (and as many for hosts on other pages),
  posted one at a time through the API; the page times each WebSocket message from the
  ws extension's `htmx:wsBeforeMessage` to `htmx:wsAfterMessage` (parse and swap, all
  synchronous) plus a forced layout, and counts long tasks (> 50 ms, PerformanceObserver).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
# bench/dashboard.py builds the fleet; loaded by path, since "dashboard" is also the Django app.
_spec = importlib.util.spec_from_file_location("bench_dashboard", BASE_DIR / "bench" / "dashboard.py")
assert _spec is not None and _spec.loader is not None
fleet = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fleet)

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "bench-password-1"

# Installed before the page's scripts: times every WebSocket message the ws extension swaps in.
MEASURE_JS = """
window.benchUpdates = []; window.benchLongTasks = [];
new PerformanceObserver(list => list.getEntries().forEach(e => window.benchLongTasks.push(e.duration)))
  .observe({type: "longtask", buffered: true});
let started = 0;
document.addEventListener("htmx:wsBeforeMessage", () => { started = performance.now(); });
document.addEventListener("htmx:wsAfterMessage", (event) => {
  document.body.offsetHeight;  // the layout the swap caused, on the same task
  window.benchUpdates.push([performance.now() - started, String(event.detail.message).slice(0, 120)]);
});
document.addEventListener("htmx:wsOpen", () => { window.benchWsOpen = performance.now(); });
"""

TIMING_JS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return {fcp: paint ? paint.startTime : null, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          ws: window.benchWsOpen || null, bytes: nav.transferSize, nodes: document.getElementsByTagName("*").length};
}"""


def setup(data_dir: str, hosts: int, keyed: list[int]) -> dict[int, tuple[str, int]]:
    """The fleet and a user; returns (raw agent key, id) of the hosts numbered in `keyed`.

    Before Playwright starts: its event loop in this thread makes Django refuse the ORM.
    """
    os.environ["DATA_DIR"] = data_dir
    fleet.setup_django(data_dir)
    from datetime import timedelta

    from django.contrib.auth.models import User
    from django.utils import timezone

    from accounts.roles import VIEWER, set_role
    from hosts.models import ApiKey, ApiKeyScope, Host

    set_role(User.objects.create_user("bench", password=PASSWORD), VIEWER)  # a user with no role sees nothing
    fleet.add_hosts(0, hosts)
    # Online for the whole run: otherwise the fleet turns stale a minute in, and the status
    # watch's 2,000 pushes would land among the measured ones.
    Host.objects.update(last_seen=timezone.now() + timedelta(hours=1))
    keyed_hosts = {host.name: host for host in Host.objects.filter(name__in=[f"host-{i:04d}" for i in keyed])}
    return {
        i: (ApiKey.issue(ApiKeyScope.AGENT, host=host)[1], host.pk)
        for i in keyed
        if (host := keyed_hosts.get(f"host-{i:04d}")) is not None
    }


def post(base_url: str, key: str, name: str, cpu: float) -> None:
    import requests

    from statusdash.tests.support import sample_report

    body = sample_report(datetime.now(UTC), seed=int(cpu * 10))
    body["cpu"]["percent"] = cpu
    body["system"]["hostname"] = name
    response = requests.post(
        f"{base_url}/api/metrics/report",
        data=gzip.compress(json.dumps(body).encode()),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def summary(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[max(0, int(len(values) * 0.95 + 0.5) - 1)]
    return f"p50 {statistics.median(values):7.1f}  p95 {p95:7.1f}  max {values[-1]:7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--loads", type=int, default=10, help="page loads per view")
    parser.add_argument("--updates", type=int, default=40, help="reports for hosts on the open page")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from statusdash.tests.support import daphne_server

    data_dir = tempfile.mkdtemp(prefix="statusdash-bench-browser-")
    on_page = list(range(0, 40))  # page 1 of the table sorted by name: host-0000 ... host-0099
    elsewhere = list(range(1000, 1040))  # page 11: pushed, not on screen
    keys = setup(data_dir, args.hosts, on_page + elsewhere)
    env = {"DATA_DIR": data_dir, "REDIS_URL": "", "LOG_LEVEL": "WARNING", "PROMETHEUS_MULTIPROC_DIR": ""}
    print(f"hosts={args.hosts} DATA_DIR={data_dir} chromium={CHROMIUM}")
    with daphne_server(env=env) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(MEASURE_JS)
        page = context.new_page()
        page.goto(f"{base_url}/login/")
        page.fill("#id_username", "bench")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base_url}/")

        for label, query in (
            ("table", "view=table&group=none"),
            ("cards", "view=cards&group=none"),
            ("table, grouped by tag", "view=table&group=tag"),
        ):
            timings = []
            for _ in range(args.loads + 1):
                page.goto(f"{base_url}/?{query}", wait_until="load")
                page.wait_for_function("() => window.benchWsOpen", timeout=10000)
                timings.append(page.evaluate(TIMING_JS))
            timings = timings[1:]  # the first load fills the server's fragment cache
            print(f"{label} ({timings[0]['nodes']} DOM elements, {timings[0]['bytes'] / 1024:.0f} KiB):")
            for field, name in (
                ("fcp", "first contentful paint"),
                ("dcl", "DOMContentLoaded"),
                ("load", "load event"),
                ("ws", "WebSocket open"),
            ):
                print(f"  {name:<24} ms  {summary([t[field] for t in timings if t[field] is not None])}")

        page.goto(f"{base_url}/?view=table&group=none", wait_until="load")
        page.wait_for_function("() => window.benchWsOpen", timeout=10000)
        for label, numbers in (("on the page", on_page), ("on another page", elsewhere)):
            page.evaluate("window.benchUpdates = []; window.benchLongTasks = []")
            time.sleep(0.2)
            for n, i in enumerate(numbers[: args.updates]):
                cpu = 10.0 + n % 80 + 0.5
                post(base_url, keys[i][0], f"host-{i:04d}", cpu)
                if label == "on the page":
                    selector = f"tr[data-host=host-{i:04d}] td.cpu"
                    page.wait_for_function(
                        f"() => document.querySelector('{selector}').textContent.startsWith('{cpu:.1f}%')"
                    )
                else:
                    page.wait_for_function(f"() => window.benchUpdates.length >= {2 * (n + 1)}")
            time.sleep(0.5)
            # Each report is two messages (its card, which the table page has no place for, and
            # its row); other messages (a host elsewhere turning stale) are left out.
            reported = {str(keys[i][1]) for i in numbers[: args.updates]}
            per_report: dict[str, float] = {}
            for ms, head in page.evaluate("window.benchUpdates"):
                found = re.match(r'<(?:article|tr) id="host-(?:row-)?(\d+)"', head)
                host_id = found.group(1) if found else ""
                if host_id in reported:
                    per_report[host_id] = per_report.get(host_id, 0.0) + ms
            long_tasks = page.evaluate("window.benchLongTasks")
            print(
                f"live update, host {label}: {len(per_report)} reports, main thread ms per report"
                f"  {summary(list(per_report.values()))};  long tasks (> 50 ms): {len(long_tasks)}"
            )
        browser.close()


if __name__ == "__main__":
    main()
