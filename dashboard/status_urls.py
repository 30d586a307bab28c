from django.urls import path

from dashboard import status_views as views

urlpatterns = [
    path("", views.status_page, name="status-page"),
    path("badge.json", views.badge, name="status-badge"),
    path("summary.json", views.summary, name="status-summary"),
]
