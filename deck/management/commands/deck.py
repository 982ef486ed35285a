"""`manage.py deck check FILE_OR_DIR...`, `manage.py deck export FILE --format json|html [-o OUT]` and
`manage.py deck rehearse FILE [--backend docker|kubernetes] [--from SLIDE] [--keep] [--timeout SECONDS]`.

`check` prints one summary line per deck when it is clean; otherwise every
problem as `FILE:LINE: message` (warnings too) and exits 1. `rehearse` runs
every runnable block (and check) of the deck in a fresh sandbox and reports
each like a test runner (see `sandbox.rehearse`); it exits 1 when a step
fails. A missing file, a folder without decks or a file that is not UTF-8
text is a one-line error and exit status 2, never a traceback; so is a
rehearsal whose sandbox cannot be made.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deck.errors import DeckFileError
from deck.export import deck_export_data, deck_export_html
from deck.model import Deck
from deck.parser import deck_parse

EXIT_PROBLEMS = 1
EXIT_UNUSABLE = 2
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl+C


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def deck_summary(*, deck: Deck, shown: str) -> str:
    """One line about a deck: slides, code blocks (runnable) and problems."""
    blocks = [block for slide in deck.slides for block in slide.blocks]
    runnable = sum(block.runnable for block in blocks)
    errors = sum(problem.level == "error" for problem in deck.problems)
    warnings = len(deck.problems) - errors
    problems = "no problems"
    if deck.problems:
        problems = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    slides = _plural(len(deck.slides), "slide")
    return f"{shown}: {slides}, {_plural(len(blocks), 'code block')} ({runnable} runnable), {problems}"


class Command(BaseCommand):
    help = "Check decks for problems, or export one as JSON or as a single offline HTML file."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{check,export,rehearse}")
        check = actions.add_parser("check", help="report every problem of the decks as FILE:LINE: message")
        check.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="deck files, or folders of *.md decks")
        export = actions.add_parser("export", help="print or write a deck as JSON or as one offline HTML file")
        export.add_argument("path", metavar="FILE", help="the deck file")
        export.add_argument("--format", choices=["json", "html"], default="json", help="json (default) or html")
        export.add_argument("-o", "--output", metavar="OUT", help="write here instead of standard output")
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

    def handle(self, *args: str, **options: object) -> None:
        if options["action"] == "check":
            self._check([Path(p) for p in options["paths"]])
        elif options["action"] == "rehearse":
            self._rehearse(Path(options["path"]), options)
        else:
            self._export(Path(options["path"]), fmt=options["format"], output=options["output"])

    def _parse(self, path: Path, *, inline_images: bool = False) -> Deck:
        try:
            return deck_parse(path=path, inline_images=inline_images)
        except DeckFileError as exc:
            raise CommandError(str(exc), returncode=EXIT_UNUSABLE) from None

    @staticmethod
    def _deck_files(paths: list[Path]) -> list[Path]:
        files: list[Path] = []
        for path in paths:
            if path.is_dir():
                found = sorted(p for p in path.glob("*.md") if p.is_file())
                if not found:
                    raise CommandError(f"{path}: no decks (*.md files) in this folder", returncode=EXIT_UNUSABLE)
                files.extend(found)
            elif path.exists():
                files.append(path)
            else:
                raise CommandError(f"{path}: no such deck file or folder", returncode=EXIT_UNUSABLE)
        return files

    def _check(self, paths: list[Path]) -> None:
        decks = [(path, self._parse(path)) for path in self._deck_files(paths)]
        count = 0
        for path, deck in decks:
            for problem in deck.problems:
                self.stdout.write(f"{path}:{problem.line}: {problem.message}")
            count += len(deck.problems)
            self.stdout.write(deck_summary(deck=deck, shown=str(path)))
        if count:
            raise CommandError(f"{_plural(count, 'problem')} found", returncode=EXIT_PROBLEMS)

    def _export(self, path: Path, *, fmt: str, output: str | None) -> None:
        if fmt == "json":
            deck = self._parse(path)
            text = json.dumps(deck_export_data(deck=deck), indent=2, ensure_ascii=False) + "\n"
        else:
            deck = self._parse(path, inline_images=True)
            text = deck_export_html(deck=deck)
        for problem in deck.problems:
            self.stderr.write(f"{path}:{problem.line}: {problem.message}")
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{output}: cannot write ({exc.strerror})", returncode=EXIT_UNUSABLE) from None
        self.stderr.write(f"wrote {output}")

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
        if report.failed:
            raise CommandError(f"the rehearsal of {path} failed", returncode=EXIT_PROBLEMS)
