"""What an HTTP check expects of an answer (agent/http_expect.py), shared by the agent's probe
and the hub's runner; both runners' own tests drive it through real servers."""

from __future__ import annotations

import pytest

from agent import http_expect


@pytest.mark.parametrize(
    ("options", "status", "body", "problem"),
    [
        ({}, 200, b"", ""),
        ({}, 302, b"", ""),
        ({}, 500, b"", "HTTP 500"),
        ({"expect_status": [404]}, 404, b"", ""),
        ({"expect_status": [200, 204]}, 500, b"", "HTTP 500, expected 200, 204"),
        ({"keyword": "ready"}, 200, b"all ready", ""),
        ({"keyword": "ready"}, 200, b"starting", "HTTP 200, but 'ready' is not in the body"),
        ({"keyword": "error", "keyword_absent": True}, 200, b"an error", "HTTP 200, but 'error' is in the body"),
        ({"json_path": "a.0.b", "json_expected": "true"}, 200, b'{"a": [{"b": true}]}', ""),
        ({"json_path": "a.1"}, 200, b'{"a": [1]}', "HTTP 200, but the JSON has no a.1"),
        ({"json_path": "status", "json_expected": "up"}, 200, b'{"status": "down"}', "status is 'down', expected 'up'"),
        ({"json_path": "status"}, 200, b"<html>", "HTTP 200, but the body is not JSON"),
    ],
)
def test_judge(options: dict, status: int, body: bytes, problem: str) -> None:
    assert http_expect.judge(options, status, body) == problem
