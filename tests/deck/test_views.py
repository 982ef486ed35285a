"""The deck app's pages through Django's test client: list, audience, presenter, print, assets, 404s."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string

from deck.services import talk_get_or_create, talk_presenter_token

pytestmark = pytest.mark.django_db

SLUG = "views-demo"
SECRET_NOTE = "the demo password is hunter2"
MACRO_NOTE = "Mention the coffee break"

DECK = f"""\
# Views demo deck

---

# Lists and code

- one
- two

Run it:

    !bash
    echo hello

![Logo](images/logo.png)

# Presenter notes

Say that {SECRET_NOTE}.

---

# A section

---

# Last slide

Bye.

.notes: {MACRO_NOTE}
"""
TITLES = ["Views demo deck", "Lists and code", "A section", "Last slide"]


def png_bytes() -> bytes:
    """A real 1x1 PNG, so the asset test compares actual image bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.fixture
def decks(settings, tmp_path: Path) -> Path:
    """A slides folder with one deck, its image, and files next to it that must never be served."""
    folder = tmp_path / "slides"
    (folder / "images").mkdir(parents=True)
    (folder / f"{SLUG}.md").write_text(DECK, encoding="utf-8")
    (folder / "images" / "logo.png").write_bytes(png_bytes())
    (folder / "images" / ".hidden.png").write_bytes(png_bytes())
    (folder / "images" / "notes.txt").write_text("not an image", encoding="utf-8")
    (tmp_path / "outside.png").write_bytes(png_bytes())
    settings.PODIUM_SLIDES_DIR = folder
    settings.PODIUM_PRESENTER_TOKEN = ""
    return folder


@pytest.fixture
def token(decks) -> str:
    return talk_presenter_token(talk=talk_get_or_create(deck_slug=SLUG))


def granted(client, token: str) -> None:
    response = client.get(f"/decks/{SLUG}/presenter/?token={token}")
    assert response.status_code == 302


def slide_numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<section class="slide[^"]*"[^>]*data-slide="(\d+)"', html)]


def test_list_shows_each_deck_with_its_slide_count_and_links(client, decks):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Views demo deck" in html
    assert "4 slides" in html
    assert f'href="/decks/{SLUG}/"' in html
    assert f'href="/decks/{SLUG}/print/"' in html
    # An attendee gets no presenter link; the presenter's browser does.
    assert f'href="/decks/{SLUG}/presenter/"' not in html


def test_list_offers_the_presenter_link_to_the_presenter(client, token):
    granted(client, token)
    html = client.get("/").content.decode()
    assert f'href="/decks/{SLUG}/presenter/"' in html


def test_list_of_an_empty_folder_says_where_decks_go(client, settings, tmp_path):
    settings.PODIUM_SLIDES_DIR = tmp_path
    response = client.get("/")
    assert response.status_code == 200
    assert "No decks yet" in response.content.decode()


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


def test_print_has_one_page_per_slide_without_notes(client, decks):
    response = client.get(f"/decks/{SLUG}/print/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<article class="sheet"') == 4
    assert slide_numbers(html) == [1, 2, 3, 4]
    assert "@page { size: 1280px 720px" in html
    assert "hunter2" not in html


def test_print_with_notes_puts_them_under_each_slide_for_the_presenter(client, token):
    granted(client, token)
    response = client.get(f"/decks/{SLUG}/print/?notes=1")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="sheet-notes"') == 4
    assert SECRET_NOTE in html
    assert MACRO_NOTE in html
    assert "landscape" in html


def test_print_with_notes_is_presenter_only(client, decks):
    response = client.get(f"/decks/{SLUG}/print/?notes=1")
    assert response.status_code == 403
    assert "hunter2" not in response.content.decode()


def test_asset_is_served_with_its_content_type(client, decks):
    response = client.get(f"/decks/{SLUG}/assets/images/logo.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png_bytes()
    assert "sandbox" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    "relpath",
    [
        "../outside.png",
        "images/../../outside.png",
        "%2e%2e/outside.png",
        "..%2foutside.png",
        f"{SLUG}.md",
        "images/.hidden.png",
        "images/notes.txt",
        "images/missing.png",
    ],
)
def test_asset_outside_the_deck_or_not_media_is_404(client, decks, relpath):
    response = client.get(f"/decks/{SLUG}/assets/{relpath}")
    assert response.status_code == 404
    assert b"hunter2" not in response.content
    assert b"Traceback" not in response.content


@pytest.mark.parametrize("suffix", ["", "presenter/", "print/", "assets/images/logo.png"])
def test_unknown_deck_is_a_404_sentence(client, decks, suffix):
    response = client.get(f"/decks/no-such-deck/{suffix}")
    html = response.content.decode()
    assert response.status_code == 404
    assert "no-such-deck" in html
    assert "Traceback" not in html
    assert 'href="/"' in html


def test_unreadable_deck_is_a_sentence_naming_the_file(client, decks):
    (decks / "broken.md").write_bytes(b"# Broken\n\n\xff\xfe not UTF-8\n")
    response = client.get("/decks/broken/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "could not be read" in html
    assert "broken.md" in html
    assert "Traceback" not in html
    # The list still shows the decks that can be read.
    listing = client.get("/").content.decode()
    assert "Views demo deck" in listing


def test_unknown_address_uses_the_404_page_when_not_debugging(client, decks, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is no page at" in response.content.decode()


def test_server_error_page_is_a_sentence():
    html = render_to_string("500.html")
    assert "Something went wrong" in html
    assert "server's log" in html


# -- Run controls -----------------------------------------------------------------------------
RUNS_SLUG = "runs-views"
RUNS_DECK = """\
# Run controls

---

# Blocks that run and blocks that do not

    !bash
    echo runs

Settings, not a manifest:

    !yaml
    replicas: 1

Shown only:

    !python run=false
    print("shown, not run")

No hint:

    plain text

A build:

    !docker
    FROM scratch
"""
RUNNABLE = {"s2b0": "Run", "s2b4": "Build"}


@pytest.fixture
def runs_deck(decks, settings, tmp_path) -> str:
    """A deck with runnable and non-runnable blocks, and the LocalBackend test double (whose check passes)."""
    from sandbox.backends import backend_get

    (decks / f"{RUNS_SLUG}.md").write_text(RUNS_DECK, encoding="utf-8")
    settings.PODIUM_SANDBOX_BACKEND = "sandbox.backends.local.LocalBackend"
    settings.PODIUM_LOCAL_SANDBOX_ROOT = str(tmp_path / "sandboxes")
    backend_get.cache_clear()
    yield RUNS_SLUG
    backend_get.cache_clear()


def run_buttons(html: str) -> dict[str, str]:
    """Block id -> the opening tag of its Run button."""
    return {match.group(1): match.group(0) for match in re.finditer(r'<button[^>]*data-run="([^"]+)"[^>]*>', html)}


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
    assert "podium/js/runs.js" in html


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
