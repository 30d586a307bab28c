from django.urls import path

from accounts import views

urlpatterns = [
    path("two-factor/", views.two_factor_settings, name="two-factor"),
]
