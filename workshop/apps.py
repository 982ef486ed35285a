from django.apps import AppConfig


class WorkshopConfig(AppConfig):
    """The app that composes the deck and the sandbox: live pages with Run buttons, and `manage.py deck`."""

    name = "workshop"
    verbose_name = "Workshop pages"
