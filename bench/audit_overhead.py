"""What the audit trail costs a request no person makes (an agent's report):

    .venv/bin/python bench/audit_overhead.py

Prints the cost of the audit middleware per request (it stores the request in a context
variable) and of a tracked model's pre_save hook when no person is behind the save (it
looks at the context variable and returns; no query). Ingest writes hosts with one raw
UPDATE (Host.record_report), so it pays only the first. Compare with bench/ingest.py's
server CPU per report (milliseconds).
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")

import django  # noqa: E402

django.setup()

from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from audit.context import AuditContextMiddleware  # noqa: E402
from audit.trail import Tracker  # noqa: E402
from hosts.models import Host  # noqa: E402

ROUNDS = 200_000


def per_call(work: object) -> float:
    return min(timeit.repeat(work, number=ROUNDS, repeat=3)) / ROUNDS  # type: ignore[arg-type]


def main() -> None:
    request = RequestFactory().post("/api/metrics/report")

    response = HttpResponse()
    bare = per_call(lambda: response)
    middleware = AuditContextMiddleware(lambda r: response)
    wrapped = per_call(lambda: middleware(request))
    tracker = Tracker(Host, ["name", "display_name", "description", "tags", "enabled", "agent_auto_update"], ())
    host = Host(pk=1, name="web-1")
    hook = per_call(lambda: tracker.before_save(Host, host))
    print(f"audit middleware:                 {(wrapped - bare) * 1e6:6.2f} µs per request")
    print(f"pre_save hook, no person behind:  {hook * 1e6:6.2f} µs per tracked save")


if __name__ == "__main__":
    main()
