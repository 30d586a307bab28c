"""/api/tokens: a person's own personal API tokens: list, create (the secret shown once), revoke.

Any role may manage their own tokens, from a dashboard session or with a token; a token
cannot make one with more rights than it has itself (nor than its owner's role).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.security import APIKeyHeader

from accounts.models import DEFAULT_DAYS, MAX_DAYS, NAME_MAX_LENGTH, PersonalToken, TokenRefused, TokenScope
from accounts.roles import VIEWER
from audit.idempotency import IDEMPOTENT, idempotent
from hosts.auth import RoleBearer, RoleSession, bearer_of, reader_from_key
from statusdash.lib.schemas import ErrorOut


class ApiKeyRefused(APIKeyHeader):
    """`X-API-Key`: machines' keys are told no (403) rather than asked to log in."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if key and reader_from_key(key) is not None:  # agent and service keys: 403 in reader_from_key
            raise HttpError(403, "an API key cannot manage personal tokens; use a session or a personal token")
        return None


router = Router(tags=["tokens"], auth=[RoleSession(VIEWER), RoleBearer(VIEWER), ApiKeyRefused()])


# Named apart from statusdash.api's TokenIn/TokenOut (the JWT's): the OpenAPI document keys schemas by class name.
class PersonalTokenOut(Schema):
    id: int
    name: str
    scope: TokenScope
    prefix: str = Field(description="The secret's first characters, to tell tokens apart.")
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None
    active: bool


class PersonalTokenIn(Schema):
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, description="What it is for, e.g. 'grafana'.")
    scope: TokenScope = Field(description="At most your role (and, from a token, that token's).")
    expires_in_days: int = Field(DEFAULT_DAYS, ge=1, le=MAX_DAYS)


class PersonalTokenCreatedOut(PersonalTokenOut):
    token: str | None = Field(
        description="The secret: shown this once, never again (null in a retry's answer with the same Idempotency-Key)."
    )


def owner(request: HttpRequest) -> AbstractBaseUser:
    user: AbstractBaseUser = request.auth  # type: ignore[attr-defined]
    return user


def shown(token: PersonalToken) -> dict[str, object]:
    return {
        "id": token.pk,
        "name": token.name,
        "scope": token.scope,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
        "active": not token.is_revoked and not token.is_expired,
    }


@router.get("", response={200: list[PersonalTokenOut], 401: ErrorOut, 403: ErrorOut})
def list_tokens(request: HttpRequest) -> list[dict[str, object]]:
    return [shown(token) for token in PersonalToken.objects.filter(user_id=owner(request).pk)]


@router.post(
    "", openapi_extra=IDEMPOTENT, response={201: PersonalTokenCreatedOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut}
)
def create_token(request: HttpRequest, body: PersonalTokenIn) -> Status:
    """A new token; its secret (`token`) is in this answer only. A retry with the same
    Idempotency-Key gets the same token back with `token` null: the secret is never stored."""
    bearer = bearer_of(request)

    def create() -> tuple[int, Any]:
        try:
            with transaction.atomic():
                token, raw = PersonalToken.issue(
                    owner(request),
                    body.name,
                    body.scope,
                    body.expires_in_days,
                    limit=bearer.role if bearer is not None else None,
                )
        except TokenRefused as refused:
            raise ValidationError(
                [{"loc": ["body", "body", refused.field], "msg": refused.reason, "type": "value_error"}]
            ) from None
        return 201, PersonalTokenCreatedOut.model_validate({**shown(token), "token": raw}).model_dump(mode="json")

    return idempotent(request, body.model_dump(mode="json"), create, secrets=("token",))


@router.delete("/{token_id}", response={204: None, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def revoke_token(request: HttpRequest, token_id: int) -> Status:
    # Another user's token is as unknown as one that does not exist: no ids are confirmed.
    token = PersonalToken.objects.filter(pk=token_id, user_id=owner(request).pk).first()
    if token is None:
        raise HttpError(404, f"you have no token {token_id}")
    token.revoke()
    return Status(204, None)
