"""HTTP routes of the deck app: the deck list and, per deck, the print and asset views.

They join the workshop's live views (audience, presenter) in one "deck" URL
namespace, composed in config/urls.py: `{% url 'deck:print' slug=... %}`.
"""

from django.urls import path

from deck import views

urlpatterns = [
    path("", views.deck_list_view, name="list"),
    path("decks/<str:slug>/print/", views.print_view, name="print"),
    path("decks/<str:slug>/assets/<path:relpath>", views.asset_view, name="asset"),
]
