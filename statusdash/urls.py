from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from hosts import views as host_views
from statusdash.api import api
from statusdash.health import health
from statusdash.observability import metrics_view

urlpatterns = [
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", host_views.overview, name="overview"),
    path("alerts/", include("alerts.urls")),
    path("status/", include("services.urls")),
]
