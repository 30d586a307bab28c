"""The admin as a whole: a staff user who may only view sees nothing that changes anything."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.test import Client, RequestFactory

from accounts.roles import VIEWER
from hosts.models import ApiKey, Certificate, Host

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def viewer(db: Any) -> User:
    # Staff in the viewer group (set_role would not make a viewer staff): the view permissions
    # of every model, and none that acts.
    user = User.objects.create_user("auditor", password="pw-auditor-123", is_staff=True)
    user.groups.add(Group.objects.get(name=VIEWER))
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _ in REGISTERED])
def test_a_view_only_staff_user_is_offered_no_action(model: Any, model_admin: Any, viewer: User) -> None:
    request = RequestFactory().get("/admin/")
    request.user = viewer
    assert model_admin.has_view_permission(request)  # the page is open to them...
    assert list(model_admin.get_actions(request)) == []  # ...but nothing on it acts


def test_a_view_only_staff_user_cannot_post_an_action_either(viewer: User) -> None:
    host = Host.objects.create(name="web-1")
    browser = Client()
    browser.force_login(viewer)
    response = browser.post(
        "/admin/hosts/host/", {"action": "create_agent_key", "_selected_action": [host.pk]}, follow=True
    )
    assert response.status_code == 200
    assert not ApiKey.objects.filter(host=host).exists()


def test_staff_with_the_permission_get_the_action(viewer: User) -> None:
    viewer.user_permissions.add(Permission.objects.get(codename="add_apikey"))
    viewer = User.objects.get(pk=viewer.pk)  # permissions are cached on the instance
    request = RequestFactory().get("/admin/")
    request.user = viewer
    actions = admin.site._registry[Host].get_actions(request)
    assert list(actions) == ["create_agent_key"]


def test_revoking_a_certificate_needs_its_change_permission(viewer: User) -> None:
    request = RequestFactory().get("/admin/")
    request.user = viewer
    assert "revoke" not in admin.site._registry[Certificate].get_actions(request)
    viewer.user_permissions.add(Permission.objects.get(codename="change_certificate"))
    request.user = User.objects.get(pk=viewer.pk)
    assert "revoke" in admin.site._registry[Certificate].get_actions(request)
