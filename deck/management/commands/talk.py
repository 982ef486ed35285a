"""`manage.py talk link SLUG` prints the presenter and audience links; `--rotate` (or `talk reset-token SLUG`) first
makes a new secret, so old presenter links, and the browsers they let in, stop driving the talk."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from deck.errors import DeckFileError, DeckNotFound
from deck.services import talk_get_or_create, talk_links, talk_token_reset


class Command(BaseCommand):
    help = "Presenter links of talks: `talk link SLUG [--rotate]` prints them (after making a new secret)."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{link,reset-token}")
        link = actions.add_parser("link", help="print the presenter link and the audience link of a deck's talk")
        link.add_argument("slug", help="the deck's slug (its file name without .md)")
        link.add_argument(
            "--base-url", default=None, help=f"public address of Podium (default {settings.PODIUM_BASE_URL})"
        )
        link.add_argument(
            "--rotate",
            action="store_true",
            help="make a new presenter token first: old links, and browsers they let in, can no longer drive the talk",
        )
        reset = actions.add_parser("reset-token", help="give the talk a new presenter token; old links stop working")
        reset.add_argument("slug", help="the deck's slug (its file name without .md)")
        reset.add_argument("--base-url", default=None, help="public address of Podium, for the new link")

    def handle(self, *args, action: str, slug: str, base_url: str | None, rotate: bool = False, **options) -> None:
        try:
            talk = talk_get_or_create(deck_slug=slug)
        except (DeckNotFound, DeckFileError):
            raise CommandError(
                f"There is no deck {slug!r} in {settings.PODIUM_SLIDES_DIR} (a deck is a {slug}.md file there)."
            ) from None
        if action == "reset-token" or rotate:
            talk = talk_token_reset(talk=talk)
            if settings.PODIUM_PRESENTER_TOKEN:
                self.stderr.write(
                    "PODIUM_PRESENTER_TOKEN is set and overrides the stored token: change it to change the link."
                )
            else:
                self.stdout.write(f"New presenter token for talk {talk.slug}; the old link no longer works.")
        presenter, audience = talk_links(talk=talk, base_url=base_url)
        self.stdout.write(f"Presenter: {presenter}")
        self.stdout.write(f"Audience:  {audience}")
