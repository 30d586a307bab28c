import pytest
from django.contrib.auth import get_user_model

from accounts.roles import ADMIN, OPERATOR, VIEWER, UnknownRole, has_role, role_of, set_role

pytestmark = pytest.mark.django_db


def make_user(name: str, **fields):
    return get_user_model().objects.create_user(name, password="a-long-password", **fields)


def test_a_role_is_the_users_only_role_and_ranks_above_the_ones_before():
    user = make_user("ops")
    assert role_of(user) is None
    set_role(user, VIEWER)
    set_role(user, OPERATOR)
    assert role_of(user) == OPERATOR
    assert list(user.groups.values_list("name", flat=True)) == [OPERATOR]
    assert has_role(user, VIEWER) and has_role(user, OPERATOR) and not has_role(user, ADMIN)


def test_operators_and_admins_may_use_the_admin_site_and_viewers_not():
    # What each may do there is their role's permissions (accounts.rights.MODEL_PERMISSIONS).
    user = make_user("ops")
    set_role(user, OPERATOR)
    assert user.is_staff
    user = make_user("boss")
    set_role(user, ADMIN)
    assert user.is_staff and role_of(user) == ADMIN
    set_role(user, VIEWER)
    user.refresh_from_db()
    assert not user.is_staff and role_of(user) == VIEWER


def test_superusers_and_staff_from_before_roles_are_admins_and_disabled_users_nothing():
    assert role_of(get_user_model().objects.create_superuser("root", password="a-long-password")) == ADMIN
    assert role_of(make_user("old-admin", is_staff=True)) == ADMIN
    disabled = make_user("gone", is_active=False)
    set_role(disabled, ADMIN)
    assert role_of(disabled) is None and not has_role(disabled, VIEWER)


def test_an_unknown_role_is_refused():
    with pytest.raises(UnknownRole, match="one of viewer, operator, admin"):
        set_role(make_user("x"), "owner")
