"""HTTP routes of the deck app (filled in by the views work)."""

urlpatterns: list = []
