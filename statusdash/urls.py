from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from statusdash.api import api
from statusdash.health import health
from statusdash.login import ThrottledLoginView
from statusdash.observability import metrics_view

urlpatterns = [
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/", api.urls),
    # The admin logs in through the same throttled form.
    path("admin/login/", ThrottledLoginView.as_view()),
    path("admin/", admin.site.urls),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("alerts/", include("alerts.urls")),
    path("status/", include("services.urls")),
    path("", include("hosts.urls")),
]
