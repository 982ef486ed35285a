"""Database state of the deck app: a Talk is one showing of a deck, followed live."""

from __future__ import annotations

import secrets

from django.db import models


def presenter_token_new() -> str:
    """A fresh random secret for a presenter link (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


class Talk(models.Model):
    """A deck being presented: where the presenter is, and the secret that lets someone drive.

    The default talk of a deck has `slug == deck_slug`. `current_slide` is
    1-based, like the slide numbers people see. `started_at` is set when a
    presenter first moves the talk (the talk is then "live"); `blackout` says
    whether the presenter blanked the audience screens.
    """

    slug = models.CharField(max_length=100, unique=True)
    deck_slug = models.CharField(max_length=100, db_index=True)
    presenter_token = models.CharField(max_length=64, default=presenter_token_new)
    current_slide = models.PositiveIntegerField(default=1)
    blackout = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def live(self) -> bool:
        """Whether a presenter has started driving this talk."""
        return self.started_at is not None
