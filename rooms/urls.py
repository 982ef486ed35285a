"""HTTP routes of the rooms app, in the "rooms" URL namespace: joining, the wait list, leaving; and the
presenter's pages (open a room, its dashboard, the join screen, the export)."""

from django.urls import path

from rooms import presenter_views, views

app_name = "rooms"

urlpatterns = [
    path("join/", views.join_view, name="join"),
    path("join/<str:code>/", views.join_view, name="join-code"),
    path("join/<str:code>/wait/", views.wait_view, name="wait"),
    path("join/<str:code>/status/", views.status_view, name="status"),
    path("join/<str:code>/leave/", views.leave_view, name="leave"),
    path("decks/<str:slug>/room/open/", presenter_views.room_open_view, name="open"),
    path("rooms/<str:code>/", presenter_views.dashboard_view, name="dashboard"),
    path("rooms/<str:code>/screen/", presenter_views.join_screen_view, name="screen"),
    path("rooms/<str:code>/count/", presenter_views.count_view, name="count"),
    path("rooms/<str:code>/export.csv", presenter_views.export_view, {"fmt": "csv"}, name="export-csv"),
    path("rooms/<str:code>/export.json", presenter_views.export_view, {"fmt": "json"}, name="export-json"),
]
