"""audit/idempotency.py: one object per Idempotency-Key, the first answer again, a changed body refused."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from ninja.errors import ValidationError

from audit.idempotency import IDEMPOTENCY_KEY_HOURS, idempotent
from audit.models import IdempotentRequest
from hosts.models import Host
from statusdash.tests.skips import postgres_only


def request(key: str | None, user, path="/api/hosts"):
    made = RequestFactory().post(path, **({"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}))
    made.auth = user
    return made


@pytest.fixture
def user(db):
    return User.objects.create_user("ops")


def create_host(name="web-1"):
    def create():
        host = Host.objects.create(name=name)
        return 201, {"id": host.pk, "name": host.name}

    return create


def test_without_a_key_every_request_runs(user):
    idempotent(request(None, user), {"name": "a"}, create_host("a"))
    idempotent(request(None, user), {"name": "b"}, create_host("b"))
    assert Host.objects.count() == 2 and not IdempotentRequest.objects.exists()


def test_a_retry_gets_the_first_answer_and_creates_nothing(user):
    first = idempotent(request("k", user), {"name": "web-1"}, create_host())
    retry = idempotent(request("k", user), {"name": "web-1"}, create_host())
    assert (retry.status_code, retry.value) == (first.status_code, first.value) == (201, first.value)
    assert Host.objects.count() == 1


def test_another_body_with_the_key_is_a_422_naming_the_header(user):
    idempotent(request("k", user), {"name": "web-1"}, create_host())
    with pytest.raises(ValidationError) as refused:
        idempotent(request("k", user), {"name": "web-2"}, create_host("web-2"))
    assert refused.value.errors[0]["loc"] == ["header", "Idempotency-Key"]
    assert Host.objects.count() == 1


def test_another_endpoint_with_the_key_is_a_422(user):
    idempotent(request("k", user), {"name": "web-1"}, create_host())
    with pytest.raises(ValidationError):
        idempotent(request("k", user, path="/api/rules"), {"name": "web-1"}, create_host("web-2"))


def test_keys_belong_to_their_caller(user):
    other = User.objects.create_user("someone")
    idempotent(request("k", user), {"name": "web-1"}, create_host())
    idempotent(request("k", other), {"name": "web-1"}, create_host("web-2"))
    assert Host.objects.count() == 2


def test_a_failed_create_stores_nothing_so_a_retry_runs(user):
    def failing():
        Host.objects.create(name="half-written")
        raise ValidationError([{"loc": ["body", "name"], "msg": "bad", "type": "value_error"}])

    with pytest.raises(ValidationError):
        idempotent(request("k", user), {"name": "x"}, failing)
    assert not Host.objects.exists() and not IdempotentRequest.objects.exists()
    assert idempotent(request("k", user), {"name": "x"}, create_host("x")).status_code == 201


def test_a_key_expires(user):
    idempotent(request("k", user), {"name": "web-1"}, create_host())
    with time_machine.travel(timezone.now() + timedelta(hours=IDEMPOTENCY_KEY_HOURS, seconds=1)):
        idempotent(request("k", user), {"name": "web-2"}, create_host("web-2"))
    assert Host.objects.count() == 2 and IdempotentRequest.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 201, "clé"])
def test_a_malformed_key_is_a_422(user, key):
    with pytest.raises(ValidationError) as refused:
        idempotent(request(key, user), {}, create_host())
    assert refused.value.errors[0]["loc"] == ["header", "Idempotency-Key"]
    assert not Host.objects.exists()


def test_secrets_are_not_stored(user):
    def issue():
        return 201, {"id": 1, "key": "sd_secret"}

    first = idempotent(request("k", user), {}, issue, secrets=("key",))
    retry = idempotent(request("k", user), {}, issue, secrets=("key",))
    assert first.value["key"] == "sd_secret" and retry.value == {"id": 1, "key": None}
    assert "sd_secret" not in str(IdempotentRequest.objects.get().body)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_requests_racing_with_one_key_create_one_object():
    user = User.objects.create_user("racer")
    inside, answers = threading.Event(), []

    def create():
        inside.set()
        # Holds the claim uncommitted while the second request reaches it and waits on its index.
        time.sleep(0.5)
        host = Host.objects.create(name=f"race-{threading.get_ident()}")
        return 201, {"id": host.pk}

    def run():
        try:
            answers.append(idempotent(request("race", user), {"n": 1}, create).value)
        finally:
            connection.close()

    first = threading.Thread(target=run)
    first.start()
    assert inside.wait(timeout=10)
    second = threading.Thread(target=run)
    second.start()
    for thread in (first, second):
        thread.join(timeout=30)
    assert len(answers) == 2 and answers[0] == answers[1]
    assert Host.objects.count() == 1
