"""The deck app's pages through Django's test client: list, print, assets, and 404s for every page of a deck."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string

pytestmark = pytest.mark.django_db

SLUG = "views-demo"  # tests/deck/fixtures/views/views-demo.md
SECRET_NOTE = "the demo password is hunter2"
MACRO_NOTE = "Mention the coffee break"


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


def test_asset_is_served_with_its_content_type(client, decks, logo_png):
    response = client.get(f"/decks/{SLUG}/assets/images/logo.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == logo_png
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
