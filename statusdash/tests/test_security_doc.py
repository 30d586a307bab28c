"""docs/security.md's threat model names tests: each must exist, so the table cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def named_tests() -> list[tuple[str, str]]:
    """(file, test) for every `path::test` or `::test` (same file as the previous) in the table."""
    text = (BASE_DIR / "docs" / "security.md").read_text()
    table = text[text.index("## Threat model") :]
    named, path = [], ""
    for cell in re.findall(r"`([^`]*::[^`]+)`", table):
        file_part, _, test = cell.partition("::")
        path = file_part or path
        named.append((path, test))
    return named


def test_the_threat_model_names_tests_that_exist() -> None:
    named = named_tests()
    assert len(named) >= 30
    missing = [
        f"{path}::{test}"
        for path, test in named
        if not re.search(rf"^(async )?def {re.escape(test)}\(", (BASE_DIR / path).read_text(), re.MULTILINE)
    ]
    assert missing == []


def test_every_row_of_the_threat_model_names_a_test() -> None:
    text = (BASE_DIR / "docs" / "security.md").read_text()
    rows = [line for line in text[text.index("## Threat model") :].splitlines() if line.startswith("| ")][2:]
    assert rows
    assert [row for row in rows if "::test_" not in row.rsplit("|", 2)[1]] == []


def test_the_users_doc_names_tests_that_exist() -> None:
    """docs/users.md: each role's rights and the test proving each, checked the same way."""
    text = (BASE_DIR / "docs" / "users.md").read_text()
    named, path = [], ""
    for cell in re.findall(r"`([^`]*::[^`]+)`", text[text.index("## Rights") :]):
        file_part, _, test = cell.partition("::")
        path = file_part or path
        named.append((path, test))
    assert len(named) >= 20
    missing = [
        f"{path}::{test}"
        for path, test in named
        if not re.search(rf"^(async )?def {re.escape(test)}\(", (BASE_DIR / path).read_text(), re.MULTILINE)
    ]
    assert missing == []
