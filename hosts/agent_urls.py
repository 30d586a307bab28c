from django.urls import path

from hosts import agent_views

app_name = "agent"
urlpatterns = [
    path("install.sh", agent_views.install_script, name="install-script"),
    path("statusdash-agent-<str:version>.tar.gz", agent_views.tarball, name="tarball"),
    path("SHA256SUMS", agent_views.checksums, name="checksums"),
]
