from django.urls import path

from dashboard import add_host, check_views, token_views, views, wall_views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("add-host/", add_host.add_host, name="add-host"),
    path("add-host/<str:name>/status/", add_host.enrollment_status, name="enrollment-status"),
    path("hosts/<str:name>/", views.host_detail, name="host"),
    path("hosts/<str:name>/history/", views.host_history, name="host-history"),
    path("checks/", check_views.check_list, name="checks"),
    path("add-check/", check_views.check_edit, name="add-check"),
    path("checks/<str:name>/", check_views.check_detail, name="check"),
    path("checks/<str:name>/edit/", check_views.check_edit, name="edit-check"),
    path("wall/", wall_views.wall_screen, name="wall"),
    path("account/tokens/", token_views.tokens, name="account-tokens"),
    path("account/tokens/<int:pk>/revoke/", token_views.revoke, name="account-token-revoke"),
]
