"""The overview a page at a time: a browser keeps up with a hundred live rows, not with 2,000.

Pages are cut on the server (`?page=`), so the page works without JavaScript and a live
push for a host on another page finds nothing to swap (the page ignores it).
"""

from __future__ import annotations

from dataclasses import dataclass

# Rows are a line each; cards a screenful of a few rows of them.
PAGE_SIZES = {"table": 100, "cards": 48}


class PageOutOfRange(ValueError):
    pass


@dataclass(frozen=True)
class Window:
    number: int
    pages: int
    start: int
    end: int


def window(count: int, number: int, size: int) -> Window:
    """Page `number` (from 1) of `count` items, `size` a page; an empty list still has page 1."""
    pages = max(1, -(-count // size))
    if not 1 <= number <= pages:
        raise PageOutOfRange(f"page must be between 1 and {pages}")
    start = (number - 1) * size
    return Window(number=number, pages=pages, start=start, end=min(count, start + size))
