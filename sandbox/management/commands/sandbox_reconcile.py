"""`manage.py sandbox_reconcile`: make sandbox rows and the backend agree again, e.g. after a restart."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from sandbox.errors import SandboxError
from sandbox.reconcile import sandbox_reconcile


class Command(BaseCommand):
    help = (
        "Mark sandboxes whose container vanished as gone (they are created again on the next run), "
        "remove sandboxes no row knows, and end runs a stopped server left running."
    )

    def handle(self, *args, **options) -> None:
        try:
            report = sandbox_reconcile()
        except SandboxError as exc:
            raise CommandError(exc.user_message) from exc
        if report.skipped:
            self.stdout.write(self.style.WARNING(f"Sandboxes not checked: {report.skipped}"))
        self.stdout.write(
            f"{len(report.gone)} sandbox(es) marked gone, {len(report.removed)} orphan(s) removed, "
            f"{len(report.interrupted)} interrupted run(s) ended."
        )
