"""The workshop's live views through Django's test client: audience and presenter, with their Run controls."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from deck.services import talk_get_or_create, talk_presenter_token

pytestmark = pytest.mark.django_db

SLUG = "views-demo"  # tests/deck/fixtures/views/views-demo.md
SECRET_NOTE = "the demo password is hunter2"
MACRO_NOTE = "Mention the coffee break"
TITLES = ["Views demo deck", "Lists and code", "A section", "Last slide"]
RUNS_SLUG = "runs-views"  # fixtures/runs/runs-views.md
RUNNABLE = {"s2b0": "Run", "s2b4": "Build"}


def slide_numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<section class="slide[^"]*"[^>]*data-slide="(\d+)"', html)]


def run_buttons(html: str) -> dict[str, str]:
    """Block id -> the opening tag of its Run button."""
    return {match.group(1): match.group(0) for match in re.finditer(r'<button[^>]*data-run="([^"]+)"[^>]*>', html)}


def test_audience_has_every_slide_and_no_notes(client, decks):
    response = client.get(f"/decks/{SLUG}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert slide_numbers(html) == [1, 2, 3, 4]
    for title in TITLES:
        assert f'data-title="{title}"' in html
    assert '<div class="code-block"' in html
    assert f"/decks/{SLUG}/assets/images/logo.png" in html
    # Notes may hold presenter-only remarks: not even hidden in the page.
    assert "hunter2" not in html
    assert MACRO_NOTE not in html
    assert "Presenter notes" not in html
    assert 'aria-live="polite"' in html
    assert f'"followUrl": "/ws/talks/{SLUG}/follow/"' in html


def test_audience_loads_nothing_from_elsewhere(client, decks):
    html = client.get(f"/decks/{SLUG}/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert sources
    assert all(source.startswith("/") for source in sources), sources


def test_presenter_view_is_refused_without_the_link(client, decks):
    response = client.get(f"/decks/{SLUG}/presenter/")
    html = response.content.decode()
    assert response.status_code == 403
    assert f"manage.py talk link {SLUG}" in html
    assert "hunter2" not in html


def test_presenter_link_grants_then_redirects_without_the_token(client, token):
    response = client.get(f"/decks/{SLUG}/presenter/?token={token}")
    assert response.status_code == 302
    assert response["Location"] == f"/decks/{SLUG}/presenter/"
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert slide_numbers(html) == [1, 2, 3, 4]
    assert SECRET_NOTE in html
    assert MACRO_NOTE in html
    assert token not in html
    assert "no-store" in page["Cache-Control"] or "no-cache" in page["Cache-Control"]


def test_presenter_link_with_a_wrong_token_grants_nothing(client, token):
    response = client.get(f"/decks/{SLUG}/presenter/?token=not-{token}")
    assert response.status_code == 403
    assert "not right" in response.content.decode()
    assert client.get(f"/decks/{SLUG}/presenter/").status_code == 403


def test_staff_user_may_present_without_a_link(client, decks):
    client.force_login(User.objects.create_user("host", password="x", is_staff=True))
    assert client.get(f"/decks/{SLUG}/presenter/").status_code == 200


def test_run_buttons_only_on_runnable_blocks_with_their_action(client, runs_deck):
    html = client.get(f"/decks/{RUNS_SLUG}/").content.decode()
    buttons = run_buttons(html)
    assert set(buttons) == set(RUNNABLE)
    for block, action in RUNNABLE.items():
        tag = buttons[block]
        assert 'type="button"' in tag
        assert f'data-action-word="{action}"' in tag
        assert "(Ctrl+Enter)" in tag
        assert "disabled" not in tag
    assert html.count('class="run-bar"') == len(RUNNABLE)
    # Each button sits inside its own block, before the block's closing tag.
    for block in RUNNABLE:
        start = html.index(f'data-block="{block}"')
        assert html.index(f'data-run="{block}"') > start
    assert "Run is not available" not in html
    assert f'"url": "/ws/decks/{RUNS_SLUG}/runs/"' in html
    assert "podium/js/audience.js" in html  # the one entry script of the page; it starts the Run buttons
    assert "podium/js/runs" not in html


def test_non_runnable_blocks_have_no_run_controls(client, runs_deck):
    html = client.get(f"/decks/{RUNS_SLUG}/").content.decode()
    blocks = re.split(r'(?=<div class="code-block)', html)
    assert len(blocks) - 1 == 5
    for part in blocks[1:]:
        block = re.match(r'<div class="code-block[^"]*"[^>]*data-block="([^"]+)"', part).group(1)
        own = part.split("</pre></div>", 1)[1].split("</div>", 1)[0]  # after the code, up to the block's end
        assert ("run-button" in own) == (block in RUNNABLE), block


def test_audience_page_gives_the_browser_a_session_for_its_runs(client, runs_deck, settings):
    response = client.get(f"/decks/{RUNS_SLUG}/")
    assert settings.SESSION_COOKIE_NAME in response.cookies
    assert response.cookies[settings.SESSION_COOKIE_NAME].value


def test_unavailable_backend_disables_run_and_says_why(client, runs_deck, settings, monkeypatch):
    from sandbox.backends import backend_get

    # The real Docker backend, pointed at an engine that is not there.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/podium-test-docker.sock")
    settings.PODIUM_SANDBOX_BACKEND = "docker"
    backend_get.cache_clear()
    html = client.get(f"/decks/{RUNS_SLUG}/").content.decode()
    buttons = run_buttons(html)
    assert set(buttons) == set(RUNNABLE)
    for block, tag in buttons.items():
        assert " disabled" in tag
        assert f'aria-describedby="run-off-{block}"' in tag
        note = re.search(rf'<p class="run-unavailable" id="run-off-{block}"[^>]*>([^<]+)</p>', html)
        assert note, f"no explanation next to block {block}"
        assert note.group(1).startswith("Run is not available: no Docker engine answers at unix:///nonexistent/")
        assert "scripts/docker-up.sh" in note.group(1)
    assert re.search(r'<button[^>]*id="sandbox-reset" disabled', html)


def test_presenter_view_has_run_buttons_too(client, runs_deck):
    token = talk_presenter_token(talk=talk_get_or_create(deck_slug=RUNS_SLUG))
    client.get(f"/decks/{RUNS_SLUG}/presenter/?token={token}")
    html = client.get(f"/decks/{RUNS_SLUG}/presenter/").content.decode()
    assert set(run_buttons(html)) == set(RUNNABLE)
    assert "Reset my sandbox" in html


def test_print_view_has_no_run_controls(client, runs_deck):
    html = client.get(f"/decks/{RUNS_SLUG}/print/").content.decode()
    assert run_buttons(html) == {}
    assert "run-bar" not in html
