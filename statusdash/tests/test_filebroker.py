"""The embedded broker never hands a consumer a half-written message (statusdash/lib/filebroker.py)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from kombu.transport import filesystem

from statusdash.lib import filebroker

MESSAGES = 100


def connection(transport: type, folder: Path) -> Connection:
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    return Connection("filesystem://", transport=transport, transport_options=options)


@pytest.fixture
def channels(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with (
        connection(filebroker.Transport, tmp_path) as producing,
        connection(filebroker.Transport, tmp_path) as consuming,
    ):
        yield producing.default_channel, consuming.default_channel


def test_a_message_is_invisible_until_it_is_whole(
    channels: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    put, get = channels
    seen_before_rename: list[Any] = []

    def replace_after_looking(source: str, destination: str) -> None:
        # The moment kombu's own transport is at risk: the file exists, the rename has not happened.
        with contextlib.suppress(filesystem.Empty):
            seen_before_rename.append(get._get("celery"))
        os.rename(source, destination)

    monkeypatch.setattr(filebroker.os, "replace", replace_after_looking)
    put._put("celery", {"number": 1})
    assert seen_before_rename == []
    assert get._get("celery") == {"number": 1}
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_kombus_own_transport_hands_out_a_message_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why filebroker exists. If kombu fixes its transport this fails, and filebroker can go.
    with (
        connection(filesystem.Transport, tmp_path) as producing,
        connection(filesystem.Transport, tmp_path) as consuming,
    ):
        put, get = producing.default_channel, consuming.default_channel
        taken: list[Exception] = []
        real_lock = filesystem.lock

        def lock_then_look(file: Any, flags: int) -> None:
            # kombu locks the new, still empty, message file before writing it.
            try:
                get._get("celery")
            except json.JSONDecodeError as error:
                taken.append(error)
            real_lock(file, flags)

        monkeypatch.setattr(filesystem, "lock", lock_then_look)
        put._put("celery", {"number": 1})
    assert taken, "kombu's filesystem transport no longer hands out half-written messages"


def test_messages_put_while_being_taken_all_arrive_whole(channels: tuple[Any, Any]) -> None:
    put, get = channels
    received: list[int] = []
    payload = {"body": "x" * 500_000}

    def produce() -> None:
        for number in range(MESSAGES):
            put._put("celery", {**payload, "number": number})

    producer = threading.Thread(target=produce)
    producer.start()
    deadline = time.monotonic() + 60
    while len(received) < MESSAGES and time.monotonic() < deadline:
        with contextlib.suppress(filesystem.Empty):
            received.append(get._get("celery")["number"])  # a half-written one would not decode
    producer.join()
    # Every one, once. (Names order messages by millisecond, not within one.)
    assert sorted(received) == list(range(MESSAGES))


def test_the_broker_url_alone_chooses_the_transport() -> None:
    # A transport setting would also bend a connection made with a Redis URL onto files.
    with Connection(f"{filebroker.SCHEME}://") as files, Connection("redis://127.0.0.1:1/0") as redis:
        assert files.transport_cls == filebroker.SCHEME and isinstance(files.transport, filebroker.Transport)
        assert redis.transport_cls == "redis"
