"""What an HTTP check expects of an answer: status, keyword, JSON value. Shared by the agent's
probe and the hub's runner (checks/runners/http.py), so both judge one answer alike.

Standard library only: the agent ships it alone and the hub imports it.
"""

from __future__ import annotations

import json
from typing import Any

NOT_FOUND = object()


def judge(options: dict[str, Any], status: int, body: bytes) -> str:
    """What is wrong with the answer, or "" when it is what the check expects.

    `options` are the check's HTTP options as JSON (the hub's HttpOptions dumped); a missing
    one has its default."""
    expect = options.get("expect_status") or []
    if expect:
        if status not in expect:
            return f"HTTP {status}, expected {', '.join(str(s) for s in expect)}"
    elif not 200 <= status < 400:
        return f"HTTP {status}"
    text = body.decode("utf-8", errors="replace")
    keyword = options.get("keyword") or ""
    if keyword:
        found = keyword in text
        if found and options.get("keyword_absent"):
            return f"HTTP {status}, but {keyword!r} is in the body"
        if not found and not options.get("keyword_absent"):
            return f"HTTP {status}, but {keyword!r} is not in the body"
    path = options.get("json_path") or ""
    if path:
        try:
            document = json.loads(text)
        except ValueError:
            return f"HTTP {status}, but the body is not JSON"
        value = json_path(document, path)
        if value is NOT_FOUND:
            return f"HTTP {status}, but the JSON has no {path}"
        expected = options.get("json_expected") or ""
        if expected and as_text(value) != expected:
            return f"{path} is {as_text(value)!r}, expected {expected!r}"
    return ""


def json_path(document: Any, path: str) -> Any:
    """The value at a dotted path ("checks.0.state"); NOT_FOUND when there is none."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return NOT_FOUND
    return value


def as_text(value: Any) -> str:
    """A JSON value as the user would write it: true, 3, ok (strings without quotes)."""
    return value if isinstance(value, str) else json.dumps(value)
