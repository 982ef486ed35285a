"""The live pages under the web side's rules: the Content-Security-Policy has nothing to block, wrong presenter
links are rate limited, and a rotated presenter link (`manage.py talk link SLUG --rotate`) stops working.

Through Django's test client, so the whole middleware stack answers; the browser
proof that the pages work under the policy is tests/browser/test_security.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from tests.workshop.conftest import RUNS_SLUG, VIEWS_SLUG

pytestmark = pytest.mark.django_db


class _Scripts(HTMLParser):
    """Every inline script of a page, and every `on…=` event handler attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        named = dict(attrs)
        self.handlers += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on")]
        self.handlers += [f"<{tag} href=javascript:…>" for _, v in attrs if (v or "").strip().startswith("javascript:")]
        if tag == "script" and "src" not in named and named.get("type") != "application/json":
            self._in_script = True

    def handle_data(self, data):
        if self._in_script:
            self.inline.append(data.strip()[:60])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("page", ["", "presenter/", "print/", "print/?notes=1"])
def test_every_page_has_the_policy_and_nothing_it_would_block(client, runs_deck, page):
    """No inline <script>, no on…= handler: the settings travel as JSON data, the code as files."""
    if page.startswith("presenter") or "notes" in page:
        client.force_login(User.objects.create_user("staff", is_staff=True))
    response = client.get(f"/decks/{RUNS_SLUG}/{page}")
    assert response.status_code == 200, response.content[:300]
    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    assert policy["connect-src"] == "'self' ws://testserver wss://testserver"
    html = response.content.decode()
    scripts = _Scripts()
    scripts.feed(html)
    assert scripts.inline == [] and scripts.handlers == []
    if not page.startswith("print"):
        assert '<script id="deck-config" type="application/json">' in html  # data, never run


def test_the_list_page_sends_the_security_headers(client, decks):
    response = client.get("/")
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_a_slide_picture_keeps_its_own_stricter_policy(client, decks):
    response = client.get(f"/decks/{VIEWS_SLUG}/assets/images/logo.png")
    assert response.status_code == 200
    assert response["Content-Security-Policy"].endswith("sandbox")


def test_wrong_presenter_links_are_refused_for_a_while_saying_when_to_retry(client, token, settings):
    settings.PODIUM_RATE_PRESENTER_TOKEN = (3, 600)
    for attempt in range(3):
        response = client.get(f"/decks/{VIEWS_SLUG}/presenter/?token=guess-{attempt}")
        assert response.status_code == 403
    refused = client.get(f"/decks/{VIEWS_SLUG}/presenter/?token=guess-4")
    assert refused.status_code == 429
    assert re.search(r"Too many presenter-link attempts: try again in \d+ s\.", refused.content.decode())
    # Even the right token waits now: guessing cannot go on by trying the real one in between.
    assert client.get(f"/decks/{VIEWS_SLUG}/presenter/?token={token}").status_code == 429
    # Another address is not held up by this one's guesses.
    other = client.get(f"/decks/{VIEWS_SLUG}/presenter/?token={token}", REMOTE_ADDR="10.9.8.7")
    assert other.status_code == 302


def test_right_presenter_links_are_not_counted(client, token, settings):
    settings.PODIUM_RATE_PRESENTER_TOKEN = (1, 600)
    for _ in range(3):
        assert client.get(f"/decks/{VIEWS_SLUG}/presenter/?token={token}").status_code == 302


def test_rotating_the_link_locks_out_the_old_link_and_the_browser_it_let_in(client, token):
    assert client.get(f"/decks/{VIEWS_SLUG}/presenter/?token={token}").status_code == 302
    assert client.get(f"/decks/{VIEWS_SLUG}/presenter/").status_code == 200
    out = StringIO()
    call_command("talk", "link", VIEWS_SLUG, "--rotate", stdout=out)
    new_token = re.search(r"token=([\w-]+)", out.getvalue()).group(1)
    assert new_token != token and "the old link no longer works" in out.getvalue()
    assert client.get(f"/decks/{VIEWS_SLUG}/presenter/").status_code == 403  # the session it granted
    assert client.get(f"/decks/{VIEWS_SLUG}/presenter/?token={token}").status_code == 403  # the old link
    assert client.get(f"/decks/{VIEWS_SLUG}/presenter/?token={new_token}").status_code == 302


def test_link_without_rotate_keeps_the_token(token):
    out = StringIO()
    call_command("talk", "link", VIEWS_SLUG, stdout=out)
    assert f"token={token}" in out.getvalue()
