"""HTTP routes of the workshop app: a deck's live views, audience and presenter.

They are part of the "deck" URL namespace (config/urls.py): `deck:audience`, `deck:presenter`.
"""

from django.urls import path

from workshop import views

urlpatterns = [
    path("decks/<str:slug>/", views.audience_view, name="audience"),
    path("decks/<str:slug>/presenter/", views.presenter_view, name="presenter"),
]
