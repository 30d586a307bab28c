from __future__ import annotations

import pytest

from checks.models import CheckState, Outcome
from services import sentiment


@pytest.mark.django_db
def test_check_that_has_not_run_does_not_count(make_check):
    make_check("tcp", "db.example:5432")
    assert sentiment.overall()["services"] == []


@pytest.mark.django_db
def test_down_check_makes_the_overall_answer_unhealthy(make_check, django_capture_on_commit_callbacks):
    check = make_check("tcp", "db.example:5432", retries=0)
    with django_capture_on_commit_callbacks(execute=True):
        check.record(Outcome(CheckState.OK, "up"))
    assert sentiment.overall()["status"] == "healthy"
    with django_capture_on_commit_callbacks(execute=True):
        check.record(Outcome(CheckState.CRITICAL, "refused"))
    answer = sentiment.overall()
    assert answer["status"] == "unhealthy"
    assert answer["services"] == [
        {"name": check.name, "status": "unhealthy", "lastCheck": check.last_result_at, "error": "refused"}
    ]


@pytest.mark.django_db
def test_warning_check_degrades(make_check, django_capture_on_commit_callbacks):
    check = make_check("tls", "example.test:443", retries=0)
    with django_capture_on_commit_callbacks(execute=True):
        check.record(Outcome(CheckState.WARNING, "expires in 10 days"))
    assert sentiment.overall()["status"] == "degraded"


@pytest.mark.django_db
def test_disabled_check_stops_counting_at_once(make_check, django_capture_on_commit_callbacks):
    check = make_check("tcp", "db.example:5432", retries=0)
    with django_capture_on_commit_callbacks(execute=True):
        check.record(Outcome(CheckState.CRITICAL, "refused"))
    assert sentiment.overall()["status"] == "unhealthy"  # cached now
    with django_capture_on_commit_callbacks(execute=True):
        check.apply_changes({"enabled": False})
    answer = sentiment.overall()
    assert (answer["status"], answer["services"]) == ("healthy", [])
