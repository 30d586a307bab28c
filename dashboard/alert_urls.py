from django.urls import path

from dashboard import alert_actions as action_views
from dashboard import alert_views as views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("<int:pk>/acknowledge", action_views.acknowledge, name="acknowledge"),
    path("<int:pk>/unacknowledge", action_views.unacknowledge, name="unacknowledge"),
    path("<int:pk>/silence", action_views.silence, name="silence"),
    path("silences/<int:pk>/end", action_views.end_silence, name="end-silence"),
]
