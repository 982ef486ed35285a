"""Admin for the run pipeline: who has a sandbox, and what ran (read-only: the pipeline writes these rows)."""

from __future__ import annotations

from django.contrib import admin

from sandbox.models import Attendee, Run, Sandbox


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Attendee)
class AttendeeAdmin(_ReadOnly):
    list_display = ["id", "display_name", "deck_slug", "is_presenter", "created_at", "last_seen_at"]
    list_filter = ["deck_slug", "is_presenter"]
    search_fields = ["id", "display_name", "deck_slug"]
    exclude = ["session_key"]  # a live session key is as good as the attendee's cookie


@admin.register(Sandbox)
class SandboxAdmin(_ReadOnly):
    list_display = ["id", "attendee", "backend", "status", "created_at", "last_used_at"]
    list_filter = ["status", "backend"]


@admin.register(Run)
class RunAdmin(_ReadOnly):
    list_display = [
        "id",
        "attendee",
        "deck_slug",
        "block_id",
        "kind",
        "status",
        "exit_code",
        "duration_ms",
        "created_at",
    ]
    list_filter = ["status", "kind", "deck_slug"]
    search_fields = ["id", "block_id"]
    date_hierarchy = "created_at"
