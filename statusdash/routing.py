from django.urls import path

from hosts.consumers import DashboardConsumer, HostPageConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/hosts/<str:name>/", HostPageConsumer.as_asgi()),
]
