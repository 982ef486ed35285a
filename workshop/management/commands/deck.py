"""`manage.py deck check FILE_OR_DIR...`, `manage.py deck export FILE --format json|html [-o OUT]`,
`manage.py deck rehearse FILE [--backend docker|kubernetes] [--from SLIDE] [--keep] [--timeout SECONDS]
[--record | --compare]` and `manage.py deck serve FILE [--watch] [--host H] [--port P]`.

`check` and `export` are the deck app's (`deck.management.deck_command`).
`rehearse` runs every runnable block (and check) of the deck in a fresh
sandbox and reports each like a test runner (see `sandbox.rehearse`); it
exits 1 when a step fails, 2 when its sandbox cannot be made. `--record`
keeps the run as `<deck>.recorded.json`; `--compare` checks the run against
it and exits 1 on drift (`sandbox.rehearse_record`). `serve` runs Podium
for one deck's author, `--watch` with live reload (`workshop.deck_serve`). The command
lives here, in the app that composes deck and sandbox, because Django takes a
command name from one app only.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from deck.errors import DeckFileError
from deck.management.deck_command import EXIT_INTERRUPTED, EXIT_PROBLEMS, EXIT_UNUSABLE, DeckCommand
from deck.recorded import Recording, record_load, record_path


class Command(DeckCommand):
    actions = ("check", "export", "rehearse", "serve")

    def add_actions(self, actions) -> None:
        rehearse = actions.add_parser(
            "rehearse",
            help="run every runnable block and check of a deck in a fresh sandbox, like a test run",
            description="Create a fresh sandbox, run the deck's runnable blocks in order (each followed by its "
            "check, if it has one) and report each as ok, FAILED (with the deck line and the output's end) or "
            "SKIPPED (with the reason: e.g. no Kubernetes cluster configured). Exit status 1 when anything failed.",
        )
        rehearse.add_argument("path", metavar="FILE", help="the deck file")
        rehearse.add_argument(
            "--backend",
            choices=["docker", "kubernetes"],
            help="the sandbox backend (default: PODIUM_SANDBOX_BACKEND)",
        )
        rehearse.add_argument(
            "--from", dest="first_slide", type=int, default=1, metavar="SLIDE", help="start at this slide number"
        )
        rehearse.add_argument("--keep", action="store_true", help="keep the sandbox afterwards (says how to enter it)")
        rehearse.add_argument(
            "--timeout",
            type=float,
            default=None,
            metavar="SECONDS",
            help="time limit of each block and check (default: PODIUM_RUN_TIMEOUT)",
        )
        rehearse.add_argument("-x", "--failfast", action="store_true", help="stop at the first failure")
        rehearse.add_argument(
            "--show-output", action="store_true", help="print every step's output, not only a failure's"
        )
        record = rehearse.add_mutually_exclusive_group()
        record.add_argument(
            "--record", action="store_true", help="keep each step's exit code and output in <deck>.recorded.json"
        )
        record.add_argument(
            "--compare",
            action="store_true",
            help="report every step whose output or exit code differs from <deck>.recorded.json; exit 1 on drift",
        )

        serve = actions.add_parser(
            "serve",
            help="serve one deck on this machine; with --watch, open pages reload when the file changes",
            description="Serve the folder of FILE with Podium (migrating the database first), print the deck's "
            "presenter and audience links, and run until Ctrl+C. --watch switches live reload on: open pages of "
            "the deck reload on the same slide when the file is saved, and show its errors as an overlay.",
        )
        serve.add_argument("path", metavar="FILE", help="the deck file")
        serve.add_argument("--watch", action="store_true", help="reload open pages when the deck file changes")
        serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")

    def handle(self, *args: str, **options: object) -> None:
        if options["action"] == "rehearse":
            self._rehearse(Path(options["path"]), options)
        elif options["action"] == "serve":
            self._serve(Path(options["path"]), options)
        else:
            super().handle(*args, **options)

    def _serve(self, path: Path, options: dict) -> None:
        from workshop.deck_serve import deck_serve

        if not path.is_file() or path.suffix != ".md":
            raise CommandError(f"{path}: no such deck file (a deck is a .md file)", returncode=EXIT_UNUSABLE)
        self._parse(path)  # a file that cannot be read is one sentence here, not a broken server

        def write(text: str) -> None:
            self.stdout.write(text, ending="")
            self.stdout.flush()

        try:
            status = deck_serve(
                deck_path=path, host=options["host"], port=options["port"], watch=options["watch"], write=write
            )
        except RuntimeError as exc:
            raise CommandError(str(exc), returncode=EXIT_UNUSABLE) from None
        if status not in (0, -15):
            raise CommandError(f"the server stopped with exit status {status}", returncode=EXIT_PROBLEMS)

    def _rehearse(self, path: Path, options: dict) -> None:
        # Imported here: `deck check` and `deck export` must work without the sandbox layer.
        from sandbox.backends import backend_class
        from sandbox.rehearse import deck_rehearse, rehearsal_failures, rehearsal_summary

        if not path.is_file():
            raise CommandError(f"{path}: no such deck file", returncode=EXIT_UNUSABLE)
        deck = self._parse(path)
        first = options["first_slide"]
        if not 1 <= first <= max(len(deck.slides), 1):
            raise CommandError(f"--from {first}: {path} has slides 1 to {len(deck.slides)}", returncode=EXIT_UNUSABLE)
        if options["record"] and first > 1:
            raise CommandError("--record keeps the whole deck: leave out --from", returncode=EXIT_UNUSABLE)
        recorded = self._recording(path) if options["compare"] else None
        timeout = options["timeout"]
        if timeout is not None and timeout <= 0:
            raise CommandError(f"--timeout {timeout:g}: give a number of seconds above 0", returncode=EXIT_UNUSABLE)
        name = options["backend"] or settings.PODIUM_SANDBOX_BACKEND
        try:
            backend = backend_class(name)()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc), returncode=EXIT_UNUSABLE) from None

        def write(text: str) -> None:
            self.stdout.write(text, ending="")
            self.stdout.flush()

        try:
            report = deck_rehearse(
                deck=deck,
                backend=backend,
                write=write,
                shown=str(path),
                first_slide=first,
                keep=options["keep"],
                timeout=timeout,
                failfast=options["failfast"],
                verbose=options["show_output"] or options["verbosity"] >= 2,
            )
        except KeyboardInterrupt:
            raise CommandError("rehearsal interrupted", returncode=EXIT_INTERRUPTED) from None
        if report.unusable:
            raise CommandError(report.unusable, returncode=EXIT_UNUSABLE)
        for line in rehearsal_failures(report, shown=str(path)):
            self.stdout.write(line)
        self.stdout.write(rehearsal_summary(report))
        drifted = False
        if options["record"]:
            from sandbox.rehearse_record import record_write

            _, said = record_write(report, deck=deck, backend=backend.name)
            self.stdout.write(said)
        elif recorded is not None:
            from sandbox.rehearse_record import report_compare

            found, lines = report_compare(
                report, deck=deck, recorded=recorded, backend=backend.name, shown=str(path), first_slide=first
            )
            for line in lines:
                self.stdout.write(line)
            drifted = bool(found.drifts)
        if report.failed:
            raise CommandError(f"the rehearsal of {path} failed", returncode=EXIT_PROBLEMS)
        if drifted:
            raise CommandError(f"{path} drifted from its record", returncode=EXIT_PROBLEMS)

    @staticmethod
    def _recording(path: Path) -> Recording:
        """The deck's record for --compare; exit 2 when there is none or it cannot be read."""
        try:
            recorded = record_load(record_path(path))
        except DeckFileError as exc:
            raise CommandError(str(exc), returncode=EXIT_UNUSABLE) from None
        if recorded is None:
            raise CommandError(
                f"{record_path(path)}: no record to compare with; make one with `deck rehearse {path} --record`",
                returncode=EXIT_UNUSABLE,
            )
        return recorded
