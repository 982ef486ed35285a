from django.urls import path

from ops import views

urlpatterns = [
    path("metrics", views.metrics_view, name="metrics"),
]
