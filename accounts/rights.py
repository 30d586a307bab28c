"""What each role may do: one table that pages, forms, the API, the sockets and the admin site all ask.

A right is a named action and the least role that may take it (accounts.roles: viewer <
operator < admin). Views call `require(user, action)`, templates `{% may "action" as ok %}`
(dashboard's `may` tag), the API declares READ_AUTH / OPERATOR_AUTH / ADMIN_AUTH (hosts.auth),
whose roles are the ones this table names for its routes.

The admin site keeps Django's model permissions: each role group holds the permissions in
MODEL_PERMISSIONS (granted after every migrate by `grant_role_permissions`), and
accounts.backends gives a user the permissions of their role. An operator uses the admin site
for what they may do there (silences, agent keys, enrollment tokens, test notifications, adding
hosts and checks); a viewer does not use it at all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse

from accounts.roles import ADMIN, OPERATOR, ROLES, VIEWER, has_role

# Viewer: read.
VIEW = "view"  # the dashboard, host and check pages, alerts, the wall, the read API, the live sockets
# Operator: also act on what is happening.
ACKNOWLEDGE = "acknowledge"
SILENCE = "silence"  # open and end silences (maintenance windows)
ADD_HOST = "add_host"
EDIT_CHECKS = "edit_checks"  # add and edit checks
CREATE_AGENT_KEY = "create_agent_key"
CREATE_ENROLLMENT_TOKEN = "create_enrollment_token"  # noqa: S105 (an action's name, not a secret)
SEND_TEST_NOTIFICATION = "send_test_notification"
USE_ADMIN_SITE = "use_admin_site"  # for the operator's own rights only: see MODEL_PERMISSIONS
# Admin: also decide how the hub works and who uses it.
MANAGE_USERS = "manage_users"  # users and roles
EDIT_ALERT_RULES = "edit_alert_rules"
EDIT_CHANNELS = "edit_channels"
MANAGE_CERTIFICATES = "manage_certificates"  # certificates and the CA, revoking keys
EDIT_SETTINGS = "edit_settings"
DELETE = "delete"  # deleting anything

RIGHTS: dict[str, str] = {
    VIEW: VIEWER,
    ACKNOWLEDGE: OPERATOR,
    SILENCE: OPERATOR,
    ADD_HOST: OPERATOR,
    EDIT_CHECKS: OPERATOR,
    CREATE_AGENT_KEY: OPERATOR,
    CREATE_ENROLLMENT_TOKEN: OPERATOR,
    SEND_TEST_NOTIFICATION: OPERATOR,
    USE_ADMIN_SITE: OPERATOR,
    MANAGE_USERS: ADMIN,
    EDIT_ALERT_RULES: ADMIN,
    EDIT_CHANNELS: ADMIN,
    MANAGE_CERTIFICATES: ADMIN,
    EDIT_SETTINGS: ADMIN,
    DELETE: ADMIN,
}

# The read models: what a viewer may look at (in the dashboard; a viewer has no admin site).
_READ = [
    "hosts.view_host",
    "alerts.view_alert",
    "alerts.view_silence",
    "checks.view_check",
    "checks.view_checkflip",
    "services.view_servicehealth",
    "services.view_serviceevent",
    "services.view_dailyavailability",
    "metrics.view_metricsample",
]
# Django's model permissions per role, for the admin site. The admin role holds every permission
# there is (ALL), so a new model is an admin's until this table gives it to someone else.
ALL = "*"
MODEL_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: _READ,
    OPERATOR: [
        *_READ,
        "alerts.add_silence",
        "alerts.change_silence",  # edit and end silences
        "alerts.view_notificationchannel",  # to send a test (the admin action asks SEND_TEST_NOTIFICATION)
        "alerts.view_notification",
        "hosts.add_host",
        "hosts.add_apikey",
        "hosts.view_apikey",
        "hosts.add_enrollmenttoken",
        "hosts.view_enrollmenttoken",
        "checks.add_check",
        "checks.change_check",
    ],
    ADMIN: [ALL],
}


class UnknownAction(KeyError):
    pass


def role_needed(action: str) -> str:
    try:
        return RIGHTS[action]
    except KeyError:
        raise UnknownAction(f"no right named {action!r}") from None


def may(user: Any, action: str) -> bool:
    """Whether the user's role allows `action` (a name from RIGHTS)."""
    return has_role(user, role_needed(action))


def require(user: Any, action: str) -> None:
    """Refuse (403) a user whose role does not allow `action`."""
    if not may(user, action):
        needed = role_needed(action)
        raise PermissionDenied(f"{action.replace('_', ' ')} needs the {needed} role or higher")


def requires(action: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A view for those who may take `action`: anyone else logged in gets 403, a visitor the log-in page."""
    role_needed(action)  # an unknown name fails at import, not at the first request

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            require(request.user, action)
            return view(request, *args, **kwargs)

        guarded.required_action = action  # type: ignore[attr-defined]
        return guarded

    return decorate


def allowed_actions(user: Any) -> set[str]:
    """Every action the user may take: what a template asks through `rights`."""
    return {action for action, role in RIGHTS.items() if has_role(user, role)}


def grant_role_permissions(**kwargs: Any) -> None:
    """Give each role group the model permissions of MODEL_PERMISSIONS (a post_migrate receiver).

    Run after every app's migrate, when that app's permissions exist: safe to run again, and the
    groups hold exactly the table (a permission taken out of it is taken from the group).
    """
    for role in ROLES:
        group = Group.objects.filter(name=role).first()
        if group is None:  # before accounts' own migration ran
            continue
        wanted = MODEL_PERMISSIONS[role]
        if wanted == [ALL]:
            group.permissions.set(Permission.objects.all())
            continue
        match = Q(pk__in=[])
        for name in wanted:
            app_label, codename = name.split(".", 1)
            match |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(match))
