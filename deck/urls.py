"""HTTP routes of the deck app: the deck list and, per deck, the audience, presenter, print and asset views."""

from django.urls import path

from deck import views

app_name = "deck"

urlpatterns = [
    path("", views.deck_list_view, name="list"),
    path("decks/<str:slug>/", views.audience_view, name="audience"),
    path("decks/<str:slug>/presenter/", views.presenter_view, name="presenter"),
    path("decks/<str:slug>/print/", views.print_view, name="print"),
    path("decks/<str:slug>/assets/<path:relpath>", views.asset_view, name="asset"),
]
