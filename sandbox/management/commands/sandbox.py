"""`manage.py sandbox SUBCOMMAND`: operator tasks for the per-attendee sandboxes.

`sandbox prepare [--offline] [--force]` puts the images the deck's material builds on into the Docker engine.
Each subcommand is a parser in `add_arguments` and a `handle_<name>` method (dashes become underscores),
so later ones (`cull`, `kind-up`) slot in beside it.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from sandbox.errors import SandboxError
from sandbox.images import image_prepare_all
from sandbox.registry import registry_ensure, registry_fill
from sandbox.workspace.build import workspace_image_build


class Command(BaseCommand):
    help = "Operator tasks for sandboxes: `sandbox prepare` gets the workshop's container images ready."
    # Operator tasks about the engine, not the web app: they must work even while a URL or model check fails.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        subcommands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        prepare = subcommands.add_parser(
            "prepare",
            help="get the base images (pulled, or local stand-ins), the workspace image and the registry mirror ready",
            description="Make sure the base images of the workshop material (settings PODIUM_PYTHON_IMAGE, "
            "PODIUM_MYSQL_IMAGE) are in the Docker engine: keep what is there, pull from a registry when one "
            "answers, else build local stand-ins (debootstrap + docker import + docker build; needs root once).",
        )
        prepare.add_argument("--offline", action="store_true", help="do not try a registry; build the stand-ins")
        prepare.add_argument(
            "--force", action="store_true", help="pull or rebuild even when the images exist (re-runs debootstrap)"
        )

    def handle(self, *args, subcommand: str, **options) -> None:
        getattr(self, "handle_" + subcommand.replace("-", "_"))(**options)

    def handle_prepare(self, *, offline: bool, force: bool, **options) -> None:
        # Base images first (the workspace builds on the Debian one), then the attendees'
        # workspace image, then the mirror their inner engines pull the base images from.
        try:
            choices = image_prepare_all(offline=offline, force=force, progress=self._progress)
            workspace_image_build(progress=self._progress, force=force)
            mirror = registry_ensure(progress=self._progress)
            registry_fill(progress=self._progress)
        except SandboxError as error:
            raise CommandError(str(error)) from None
        args = " ".join(f"--build-arg {choice.role.upper()}_IMAGE={choice.image}" for choice in choices)
        self.stdout.write(self.style.SUCCESS(f"Images ready. The material builds with: {args}"))
        self.stdout.write(self.style.SUCCESS(f"Workspace image ready; inner engines pull through {mirror}."))

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
