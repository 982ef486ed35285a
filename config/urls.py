"""HTTP routes.

A deck's pages share one URL namespace, "deck", whichever app serves them:
the list, print and asset views are the deck app's, the live audience and
presenter views (with Run buttons) the workshop app's. Templates and tests
name them `deck:list`, `deck:audience`, `deck:presenter`, `deck:print`, `deck:asset`.
"""

from django.contrib import admin
from django.urls import include, path

from deck import urls as deck_urls
from ops import urls as ops_urls
from rooms import urls as rooms_urls
from workshop import urls as workshop_urls

deck_pages = [*deck_urls.urlpatterns, *workshop_urls.urlpatterns]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include((deck_pages, "deck"))),
    path("", include(rooms_urls)),
    path("", include(ops_urls)),
]
