from django.urls import path

from dashboard import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("hosts/<str:name>/", views.host_detail, name="host"),
    path("hosts/<str:name>/history/", views.host_history, name="host-history"),
]
