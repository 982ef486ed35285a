"""`manage.py sandbox SUBCOMMAND`: operator tasks for the per-attendee sandboxes.

`sandbox prepare [--offline] [--force]` gets the images ready (base images, workspace, registry mirror);
`sandbox firewall [--every N]` installs (and keeps first) the sandbox firewall; `sandbox reconcile` makes
rows and backend agree after a restart; `sandbox cull` reaps idle sandboxes;
`sandbox kind-up` makes a local kind cluster for the Kubernetes half of the deck.
The host setup itself lives in the `provision` package; this command only parses and reports.
Each subcommand is a parser in `add_arguments` and a `handle_<name>` method (dashes become underscores),
so later ones (`cull`, `kind-up`) slot in beside it.
"""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from provision.firewall import firewall_apply, firewall_keep_first
from provision.images import engine_client, image_prepare_all
from provision.kind import KindError, kind_up
from provision.registry import registry_ensure, registry_fill
from provision.workspace.build import workspace_image_build
from sandbox.backends import docker_engine
from sandbox.cull import sandbox_cull, sandboxes_remove_all
from sandbox.errors import SandboxError
from sandbox.reconcile import runs_lost_end, sandbox_reconcile


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
        prepare.add_argument(
            "--images-only",
            action="store_true",
            help="only the base images (what Podium's own image and the compose file build on); no workspace, "
            "mirror or firewall",
        )
        firewall = subcommands.add_parser(
            "firewall",
            help="install the sandbox firewall (provision/firewall.py) and, with --every, keep its rules first",
            description="Install the iptables rules that keep sandboxes off the host and each other; with --every, "
            "put them back first whenever another tool inserted rules above them. Needs root in the host's network "
            "namespace. With PODIUM_SANDBOX_FIREWALL=0 it only says so.",
        )
        firewall.add_argument("--every", type=int, default=0, help="check again every N seconds (0 = once)")

        subcommands.add_parser(
            "reconcile",
            help="make sandbox rows and the backend agree again (run it after a restart)",
            description="Mark sandboxes whose container vanished as gone (created again on the next run), remove "
            "sandboxes of this install that no row knows, and end runs a stopped server left running.",
        )
        cull = subcommands.add_parser(
            "cull",
            help="destroy sandboxes nobody used for a while (PODIUM_SANDBOX_IDLE_TTL)",
            description="Destroy every sandbox with no run for --idle seconds and none running now. The attendee's "
            "runs are kept; their next run creates a fresh sandbox. With --every, keep culling at that interval.",
        )
        cull.add_argument("--idle", type=int, default=None, help="idle seconds (default PODIUM_SANDBOX_IDLE_TTL)")
        cull.add_argument("--every", type=int, default=0, help="repeat every N seconds until stopped (0 = once)")
        subcommands.add_parser(
            "remove-all",
            help="destroy every sandbox of this install, busy or not (before taking a deployment down)",
            description="Destroy every sandbox of this install (PODIUM_INSTANCE), in use or not, and those no row "
            "knows: on Kubernetes, every attendee namespace and workspace pod it made. Runs, progress and rooms "
            "stay in the database; an attendee's next run creates a fresh sandbox.",
        )
        kind_up = subcommands.add_parser(
            "kind-up",
            help="create a local kind cluster for the Kubernetes half of the deck and load the workshop images",
            description="With the `kind` binary on PATH: create a kind cluster (or reuse it), build the sample_app "
            "images the k8s/ manifests run, load them, mysql and the workspace image into it, and print the settings "
            "that point Podium at it.",
        )
        kind_up.add_argument("--name", default="podium", help="kind cluster name (default podium)")
        kind_up.add_argument(
            "--kubeconfig", default="", help="where to write its kubeconfig (default var/kind-<name>.kubeconfig)"
        )

    def handle(self, *args, subcommand: str, **options) -> None:
        try:
            getattr(self, "handle_" + subcommand.replace("-", "_"))(**options)
        except DatabaseError as error:
            raise CommandError(f"The database is not ready ({error}); run `manage.py migrate` first.") from None

    def handle_prepare(self, *, offline: bool, force: bool, images_only: bool, **options) -> None:
        # Base images first (the workspace builds on the Debian one), then the attendees'
        # workspace image, then the mirror their inner engines pull the base images from.
        try:
            choices = image_prepare_all(offline=offline, force=force, progress=self._progress)
            if images_only:  # as KEY=VALUE lines for scripts (scripts/compose-up.sh)
                for choice in choices:
                    self.stdout.write(f"PODIUM_{choice.role.upper()}_BASE={choice.image}")
                    self.stdout.write(f"PODIUM_{choice.role.upper()}_BASE_STANDIN={int(choice.standin)}")
                self.stdout.write(f"PODIUM_BRIDGE_GATEWAY={docker_engine.bridge_gateway(engine_client())}")
                return
            workspace_image_build(progress=self._progress, force=force)
            mirror = registry_ensure(progress=self._progress)
            registry_fill(progress=self._progress)
            if settings.PODIUM_SANDBOX_FIREWALL:  # isolation of the sandboxes' networks (provision/firewall.py)
                firewall_apply(progress=self._progress)
        except SandboxError as error:
            raise CommandError(str(error)) from None
        args = " ".join(f"--build-arg {choice.role.upper()}_IMAGE={choice.image}" for choice in choices)
        self.stdout.write(self.style.SUCCESS(f"Images ready. The material builds with: {args}"))
        self.stdout.write(self.style.SUCCESS(f"Workspace image ready; inner engines pull through {mirror}."))

    def handle_reconcile(self, **options) -> None:
        try:
            report = sandbox_reconcile()
        except SandboxError as error:
            raise CommandError(error.user_message) from None
        if report.skipped:
            self.stdout.write(self.style.WARNING(f"Sandboxes not checked: {report.skipped}"))
        self.stdout.write(
            f"{len(report.gone)} sandbox(es) marked gone, {len(report.removed)} orphan(s) removed, "
            f"{len(report.interrupted)} interrupted run(s) ended."
        )

    def handle_cull(self, *, idle: int | None, every: int, **options) -> None:
        stop = _StopSignal() if every > 0 else None
        while stop is None or not stop.received:
            try:
                report = sandbox_cull(idle_seconds=idle)
            except SandboxError as error:
                raise CommandError(error.user_message) from None
            for sandbox_id, reason in report.failed.items():
                self.stderr.write(f"sandbox {sandbox_id[:12]} could not be removed: {reason}")
            self.stdout.write(f"{len(report.culled)} idle sandbox(es) removed.")
            try:
                lost = runs_lost_end()
            except SandboxError as error:
                self.stderr.write(str(error))
            else:
                if lost:
                    self.stdout.write(f"{len(lost)} run(s) whose worker stopped ended.")
            if settings.PODIUM_SANDBOX_FIREWALL:  # another tool may have inserted rules above the firewall's
                try:
                    firewall_keep_first(progress=self._progress)
                except SandboxError as error:
                    self.stderr.write(str(error))
            self.stdout.flush()
            if stop is None:
                return
            stop.wait(every)
        if settings.PODIUM_SANDBOXES_ON_STOP == "remove":
            self.stdout.write("Stopping: removing every sandbox of this install (PODIUM_SANDBOXES_ON_STOP=remove).")
            self.stdout.flush()
            self._remove_all()

    def handle_remove_all(self, **options) -> None:
        self._remove_all()

    def _remove_all(self) -> None:
        """Remove every sandbox of this install, saying how many, and which could not be and why."""
        try:
            report = sandboxes_remove_all()
        except SandboxError as error:
            raise CommandError(error.user_message) from None
        for sandbox_id, reason in report.failed.items():
            self.stderr.write(f"sandbox {sandbox_id[:12]} could not be removed: {reason}")
        self.stdout.write(f"{len(report.culled)} sandbox(es) removed.")
        if report.failed:
            raise CommandError(f"{len(report.failed)} sandbox(es) could not be removed.")

    def handle_firewall(self, *, every: int, **options) -> None:
        if not settings.PODIUM_SANDBOX_FIREWALL:
            self.stdout.write("The sandbox firewall is off (PODIUM_SANDBOX_FIREWALL=0): the host's operator keeps it.")
            return
        try:
            rules = firewall_apply(progress=self._progress)
        except SandboxError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"Sandbox firewall installed ({len(rules)} rules)."))
        self.stdout.flush()
        stop = _StopSignal() if every > 0 else None
        while stop is not None:
            stop.wait(every)
            if stop.received:
                return
            try:
                firewall_keep_first(progress=self._progress)
            except SandboxError as error:
                self.stderr.write(str(error))

    def handle_kind_up(self, *, name: str, kubeconfig: str, **options) -> None:
        try:
            target = kind_up(name=name, kubeconfig=kubeconfig, progress=self._progress)
        except KindError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS(f"kind cluster {name} is ready. Point Podium at it with:"))
        self.stdout.write(f"  export PODIUM_KUBECONFIG={target}")
        self.stdout.write(
            "  export PODIUM_SANDBOX_BACKEND=kubernetes   # or keep docker: workspaces then get a namespace"
        )
        self.stdout.write("  export PODIUM_SANDBOX_SECURITY=privileged  # kind allows privileged pods")

    def _progress(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()


class _StopSignal:
    """SIGTERM or SIGINT (`docker stop`, Ctrl+C) ends `cull --every` between passes instead of killing it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: self._event.set())

    @property
    def received(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> None:
        self._event.wait(seconds)
