from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path, reverse_lazy

from dashboard.login import ThrottledLoginView, login_code, sso_refused
from metrics.exposition import metrics_view
from statusdash.api import api
from statusdash.lib.health import health


def api_not_found(request: HttpRequest, rest: str) -> JsonResponse:
    """Under /api/ a path no route takes (an id with a `/` in it, say) is a JSON 404, as every API error."""
    return JsonResponse({"detail": "no such API route; see /api/docs"}, status=404)


urlpatterns = [
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    # The admin logs in through the same throttled form.
    path("admin/login/", ThrottledLoginView.as_view()),
    path("admin/", admin.site.urls),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("login/code/", login_code, name="login-code"),
    path("login/sso-refused/", sso_refused, name="sso-refused"),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("account/", include("accounts.urls")),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The one-time link `manage.py users add` prints (accounts/users.py): Django's password-reset tokens.
    path(
        "password/set/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="set_password.html", success_url=reverse_lazy("password-set")
        ),
        name="set-password",
    ),
    path(
        "password/set/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="password_set.html"),
        name="password-set",
    ),
    path("alerts/", include("dashboard.alert_urls")),
    path("status/", include("dashboard.status_urls")),
    path("agent/", include("hosts.agent_urls")),
    path("", include("dashboard.urls")),
]
