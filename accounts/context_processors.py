"""`rights` in every page's context: the actions the user may take (accounts.rights).

A template shows a control only when its action is in it (`{% if "acknowledge" in rights %}`),
so no page offers a button that ends in 403. Pushes rendered without a request pass the same
variable themselves (dashboard.consumers).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.rights import allowed_actions


def rights(request: HttpRequest) -> dict[str, Any]:
    # Lazy: a page that asks nothing (a JSON fragment, the log-in page) costs no query.
    return {"rights": SimpleLazyObject(lambda: allowed_actions(getattr(request, "user", None)))}
