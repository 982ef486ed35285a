from django.apps import AppConfig


class RoomsConfig(AppConfig):
    """Rooms: live sessions of a deck people join with a code; their members are who gets a sandbox."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "rooms"

    def ready(self) -> None:
        from rooms.admission import sandbox_admission, sandbox_from_pool
        from rooms.pool import pool_sandbox_ids
        from rooms.roster import boards_watching
        from sandbox.admission import admission_policy_add, sandbox_keeper_add, sandbox_supplier_add
        from sandbox.watchers import activity_watcher_add

        admission_policy_add(sandbox_admission)
        sandbox_supplier_add(sandbox_from_pool)
        sandbox_keeper_add(pool_sandbox_ids)
        activity_watcher_add(boards_watching)
