from django.urls import path

from dashboard.alert_consumers import AlertsConsumer
from dashboard.check_consumers import CheckPageConsumer, ChecksConsumer
from dashboard.consumers import DashboardConsumer, HostPageConsumer
from dashboard.wall_consumers import WallConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/hosts/<str:name>/", HostPageConsumer.as_asgi()),
    path("ws/checks/", ChecksConsumer.as_asgi()),
    path("ws/checks/<str:name>/", CheckPageConsumer.as_asgi()),
    path("ws/alerts/", AlertsConsumer.as_asgi()),
    path("ws/wall/", WallConsumer.as_asgi()),
]
