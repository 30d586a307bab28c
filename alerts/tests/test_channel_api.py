"""/api/channels: notification channels (admins), a test notification (operators); URLs never shown."""

from __future__ import annotations

import pytest

from alerts.models import AuditEntry, NotificationChannel
from statusdash.tests.api_actors import ADMINS, CALLERS, OPERATORS, READERS, expected_refusal, make_actors


@pytest.fixture
def actors(db):
    return make_actors()


NEW = {"name": "ops", "url": "json://127.0.0.1:9/hook?secret=s3cret", "min_severity": "critical", "tags": ["prod"]}


@pytest.mark.parametrize("caller", CALLERS)
def test_reading_channels_takes_read_rights(client, actors, channel, caller):
    for path in ("/api/channels", f"/api/channels/{channel.pk}"):
        assert actors.call(client, caller, "get", path).status_code == (
            200 if caller in READERS else expected_refusal(caller)
        )


@pytest.mark.parametrize("caller", CALLERS)
def test_changing_channels_takes_an_admin(client, actors, channel, caller):
    wanted = (201, 200, 204) if caller in ADMINS else (expected_refusal(caller),) * 3
    got = (
        actors.call(client, caller, "post", "/api/channels", NEW).status_code,
        actors.call(client, caller, "patch", f"/api/channels/{channel.pk}", {"enabled": False}).status_code,
        actors.call(client, caller, "delete", f"/api/channels/{channel.pk}").status_code,
    )
    assert got == wanted


@pytest.mark.parametrize("caller", CALLERS)
def test_sending_a_test_takes_an_operator(client, actors, channel, receiver, caller):
    response = actors.call(client, caller, "post", f"/api/channels/{channel.pk}/test")
    assert response.status_code == (200 if caller in OPERATORS else expected_refusal(caller))
    assert len(receiver.messages) == (1 if caller in OPERATORS else 0)


def test_a_test_reaches_the_channel(client, actors, channel, receiver):
    body = actors.call(client, "operator", "post", f"/api/channels/{channel.pk}/test").json()
    assert body == {"sent": True, "error": ""}
    assert "test notification" in receiver.messages[0]["title"]
    assert AuditEntry.objects.filter(action="test_channel", username="operator-user").exists()


def test_a_failed_test_says_why(client, actors, db):
    dead = NotificationChannel.objects.create(name="dead", url="json://127.0.0.1:9/")
    body = actors.call(client, "operator", "post", f"/api/channels/{dead.pk}/test").json()
    assert body["sent"] is False and body["error"]


def test_the_url_goes_in_and_never_comes_out(client, actors):
    created = actors.call(client, "admin", "post", "/api/channels", NEW)
    assert created.status_code == 201
    assert NotificationChannel.objects.get(name="ops").url == NEW["url"]
    listed = actors.call(client, "viewer", "get", "/api/channels")
    one = actors.call(client, "viewer", "get", f"/api/channels/{created.json()['id']}")
    for response in (created, listed, one):
        assert b"s3cret" not in response.content
    assert created.json()["scheme"] == "json"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "url": "nonsense"}, "url"),
        ({**NEW, "min_severity": "meh"}, "min_severity"),
        ({**NEW, "tags": [""]}, "tags"),
        ({**NEW, "name": ""}, "name"),
    ],
)
def test_bad_channels_are_a_422_naming_the_field(client, actors, body, field):
    response = actors.call(client, "admin", "post", "/api/channels", body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert not NotificationChannel.objects.exists()


def test_a_taken_name_is_a_409(client, actors, channel):
    response = actors.call(client, "admin", "post", "/api/channels", {**NEW, "name": channel.name})
    assert response.status_code == 409


def test_a_new_url_changes_the_etag(client, actors, channel):
    etag = actors.call(client, "viewer", "get", f"/api/channels/{channel.pk}")["ETag"]
    NotificationChannel.objects.filter(pk=channel.pk).update(url="json://127.0.0.1:1/other")
    stale = actors.call(client, "admin", "patch", f"/api/channels/{channel.pk}", {"enabled": False}, HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    channel.refresh_from_db()
    assert channel.enabled


def test_a_stale_if_match_on_delete_is_a_412(client, actors, channel):
    etag = actors.call(client, "viewer", "get", f"/api/channels/{channel.pk}")["ETag"]
    actors.call(client, "admin", "patch", f"/api/channels/{channel.pk}", {"send_resolved": False})
    assert actors.call(client, "admin", "delete", f"/api/channels/{channel.pk}", HTTP_IF_MATCH=etag).status_code == 412
    assert NotificationChannel.objects.filter(pk=channel.pk).exists()


@pytest.mark.parametrize(("method", "suffix"), [("get", ""), ("patch", ""), ("delete", ""), ("post", "/test")])
def test_an_unknown_channel_is_a_json_404(client, actors, method, suffix):
    response = actors.call(client, "admin", method, f"/api/channels/4242{suffix}", {} if method == "patch" else None)
    assert response.status_code == 404 and response.json()["detail"] == "no channel 4242"


def test_a_retried_create_returns_the_first_answer(client, actors):
    first = actors.call(client, "admin", "post", "/api/channels", NEW, HTTP_IDEMPOTENCY_KEY="c1")
    retry = actors.call(client, "admin", "post", "/api/channels", NEW, HTTP_IDEMPOTENCY_KEY="c1")
    assert (first.status_code, first.json()) == (retry.status_code, retry.json())
    assert NotificationChannel.objects.count() == 1


def test_paging_is_stable_under_inserts(client, actors):
    for name in ("b", "d", "f"):
        NotificationChannel.objects.create(name=name, url="json://127.0.0.1:9/")
    first = actors.call(client, "viewer", "get", "/api/channels?limit=2").json()
    NotificationChannel.objects.create(name="a", url="json://127.0.0.1:9/")
    rest = actors.call(client, "viewer", "get", f"/api/channels?cursor={first['next_cursor']}").json()
    assert [c["name"] for c in first["items"] + rest["items"]] == ["b", "d", "f"]
