from django.urls import path

from services import views

urlpatterns = [
    path("", views.status_page, name="status-page"),
    path("badge.json", views.badge, name="status-badge"),
    path("summary.json", views.summary, name="status-summary"),
]
