"""Admin for talks: see where each talk is, and rotate a presenter token."""

from __future__ import annotations

from django.contrib import admin, messages

from deck.models import Talk
from deck.services import talk_token_reset


@admin.register(Talk)
class TalkAdmin(admin.ModelAdmin):
    list_display = ["slug", "deck_slug", "current_slide", "is_live", "blackout", "updated_at"]
    search_fields = ["slug", "deck_slug"]
    # The token is a secret: shown read-only, changed only by the reset action (or `manage.py talk reset-token`).
    readonly_fields = ["presenter_token", "started_at", "updated_at"]
    actions = ["reset_presenter_token"]

    @admin.display(boolean=True, description="live")
    def is_live(self, talk: Talk) -> bool:
        return talk.live

    @admin.action(description="Reset the presenter token (old presenter links stop working)")
    def reset_presenter_token(self, request, queryset) -> None:
        for talk in queryset:
            talk_token_reset(talk=talk)
        self.message_user(request, f"New presenter token for {queryset.count()} talk(s).", messages.SUCCESS)
