"""Who may look at the wall: a dashboard user, or a read API key in the URL (`/wall/?token=sd_…`).

An unattended screen cannot log in again when its session ends, so it may carry a read key
instead. The key is checked the way the API checks it (hosts.identity.require_key: unknown,
revoked and wrong-scope keys are refused) and gives the wall and its socket, nothing else.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from hosts.identity import IdentityRefused, require_key
from hosts.models import ApiKey, ApiKeyScope

TOKEN_PARAM = "token"  # noqa: S105 (the query parameter's name, not a secret)


class WallRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def reader_for(token: str) -> ApiKey:
    """The read key for a presented token, its use recorded; else WallRefused saying why."""
    try:
        return require_key(token, ApiKeyScope.READ)
    except IdentityRefused as refused:
        raise WallRefused(refused.reason) from None


def token_in(query_string: bytes) -> str | None:
    """The token of a WebSocket's query string (`?token=…`), None when there is none."""
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get(TOKEN_PARAM)
    return values[-1] if values else None


def still_valid(key_id: int) -> bool:
    """Whether the key an open socket was let in with is still unrevoked (it is re-checked as the wall refreshes)."""
    return ApiKey.objects.filter(pk=key_id, scope=ApiKeyScope.READ, revoked_at__isnull=True).exists()
