"""statusdash/lib/etags.py: a tag per representation, and If-Match checked against it."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from ninja.errors import HttpError

from statusdash.lib.etags import etag_for, require_current


def test_the_tag_follows_the_content_not_the_key_order():
    assert etag_for({"a": 1, "b": [1, 2]}) == etag_for({"b": [1, 2], "a": 1})
    assert etag_for({"a": 1}) != etag_for({"a": 2})
    assert etag_for({"a": 1}).startswith('"') and etag_for({"a": 1}).endswith('"')


@pytest.mark.parametrize("header", [None, "*", '"abc"', 'W/"abc"', '"zzz", "abc"'])
def test_a_matching_or_absent_if_match_goes_ahead(header):
    headers = {} if header is None else {"HTTP_IF_MATCH": header}
    require_current(RequestFactory().patch("/x", **headers), '"abc"')


@pytest.mark.parametrize("header", ['"old"', "abc", ""])
def test_another_tag_is_a_412(header):
    with pytest.raises(HttpError) as refused:
        require_current(RequestFactory().patch("/x", HTTP_IF_MATCH=header), '"abc"')
    assert refused.value.status_code == 412
