"""accounts/rights.py: the table against the issue's list (the role matrix checks that everything
enforces the table; this checks the table itself), and the helpers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from accounts import rights
from accounts.roles import ADMIN, OPERATOR, VIEWER
from statusdash.tests.support import user_with_role

pytestmark = pytest.mark.django_db

# Issue #18: viewer reads; operator also acknowledges, silences, adds hosts and checks, creates
# agent keys and enrollment tokens, sends test notifications; admin also the rest.
AS_THE_ISSUE_SAYS = {
    rights.VIEW: VIEWER,
    rights.ACKNOWLEDGE: OPERATOR,
    rights.SILENCE: OPERATOR,
    rights.ADD_HOST: OPERATOR,
    rights.EDIT_CHECKS: OPERATOR,
    rights.CREATE_AGENT_KEY: OPERATOR,
    rights.CREATE_ENROLLMENT_TOKEN: OPERATOR,
    rights.SEND_TEST_NOTIFICATION: OPERATOR,
    rights.USE_ADMIN_SITE: OPERATOR,
    rights.MANAGE_USERS: ADMIN,
    rights.EDIT_ALERT_RULES: ADMIN,
    rights.EDIT_CHANNELS: ADMIN,
    rights.MANAGE_CERTIFICATES: ADMIN,
    rights.EDIT_SETTINGS: ADMIN,
    rights.DELETE: ADMIN,
}


def test_each_right_belongs_to_the_role_the_issue_gives_it() -> None:
    assert rights.RIGHTS == AS_THE_ISSUE_SAYS


def test_no_role_but_admin_holds_a_delete_permission() -> None:
    for role in (VIEWER, OPERATOR):
        codenames = Group.objects.get(name=role).permissions.values_list("codename", flat=True)
        assert [c for c in codenames if c.startswith("delete_")] == []
    assert Group.objects.get(name=ADMIN).permissions.filter(codename="delete_user").exists()


def test_require_refuses_with_the_role_needed() -> None:
    viewer = user_with_role("vera", VIEWER)
    rights.require(viewer, rights.VIEW)
    with pytest.raises(PermissionDenied, match="acknowledge needs the operator role or higher"):
        rights.require(viewer, rights.ACKNOWLEDGE)


def test_an_unknown_action_is_an_error_not_a_refusal() -> None:
    with pytest.raises(rights.UnknownAction):
        rights.may(user_with_role("vera", VIEWER), "launch")
