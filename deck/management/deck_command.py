"""What `manage.py deck` can do with the deck alone: `deck check FILE_OR_DIR...` and
`deck export FILE --format json|html [-o OUT]` (the HTML with the deck's recorded outputs, when it has a record).

`check` prints one summary line per deck when it is clean; otherwise every
problem as `FILE:LINE: message` (warnings too) and exits 1. A missing file, a
folder without decks or a file that is not UTF-8 text is a one-line error and
exit status 2, never a traceback.

This is a base class, not a command: the `deck` command itself is the
workshop app's (workshop/management/commands/deck.py), which adds `rehearse`
(running the deck in a sandbox). Django takes a command name from one app
only, and the deck app imports nothing from the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deck.errors import DeckFileError
from deck.export import deck_export_data, deck_export_html
from deck.parsed import Deck
from deck.parser import deck_parse
from deck.recorded import record_load, record_path

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


class DeckCommand(BaseCommand):
    """`check` and `export` as subcommands; a subclass adds its own in `add_actions` and handles them in `handle`."""

    help = "Check decks for problems, or export one as JSON or as a single offline HTML file."
    actions = ("check", "export")

    def add_arguments(self, parser: CommandParser) -> None:
        metavar = "{" + ",".join(self.actions) + "}"
        actions = parser.add_subparsers(dest="action", required=True, metavar=metavar)
        check = actions.add_parser("check", help="report every problem of the decks as FILE:LINE: message")
        check.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="deck files, or folders of *.md decks")
        export = actions.add_parser("export", help="print or write a deck as JSON or as one offline HTML file")
        export.add_argument("path", metavar="FILE", help="the deck file")
        export.add_argument("--format", choices=["json", "html"], default="json", help="json (default) or html")
        export.add_argument("-o", "--output", metavar="OUT", help="write here instead of standard output")
        self.add_actions(actions)

    def add_actions(self, actions) -> None:
        """Add a subclass's own subcommands to `actions` (argparse subparsers), after check and export."""

    def handle(self, *args: str, **options: object) -> None:
        if options["action"] == "check":
            self._check([Path(p) for p in options["paths"]])
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
            try:
                recording = record_load(record_path(path))
            except DeckFileError as exc:
                self.stderr.write(f"{exc}: exporting without recorded outputs")
                recording = None
            text = deck_export_html(deck=deck, recording=recording)
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
