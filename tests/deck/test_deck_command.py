"""`manage.py deck check` and `manage.py deck export`, as a deck author runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from deck.errors import DeckFileError

FIXTURES = Path(__file__).parent / "fixtures"
DECKS = FIXTURES / "decks"
ROOT = Path(__file__).resolve().parents[2]
SEED = Path(__file__).parent / "fixtures" / "seed-intro-docker-kubernetes.md"


@pytest.fixture(autouse=True)
def include_root(settings):
    settings.PODIUM_INCLUDE_ROOT = FIXTURES / "include_root"


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("deck", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_check_a_clean_deck_prints_one_summary_line():
    out, _ = run("check", str(DECKS / "workshop.md"))
    assert out == f"{DECKS / 'workshop.md'}: 4 slides, 3 code blocks (3 runnable), no problems\n"


def test_check_prints_every_problem_as_file_line_message_and_fails():
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("deck", "check", str(DECKS / "broken.md"), stdout=out)
    shown = str(DECKS / "broken.md")
    assert out.getvalue().splitlines() == [
        f"{shown}:3: unknown lexer `nosuchlexer`: Pygments has no lexer by that name",
        f"{shown}:10: image images/gone.png not found",
        f"{shown}:12: include file app/nothere.sh not found",
        f"{shown}: 2 slides, 2 code blocks (0 runnable), 1 error, 2 warnings",
    ]
    assert failed.value.returncode == 1
    assert str(failed.value) == "3 problems found"


def test_check_a_folder_checks_every_deck_in_it():
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("deck", "check", str(DECKS), stdout=out)
    summaries = [line for line in out.getvalue().splitlines() if " slides, " in line]
    assert [line.split(":")[0] for line in summaries] == [str(DECKS / "broken.md"), str(DECKS / "workshop.md")]


def test_check_a_folder_without_decks_is_a_one_line_error(tmp_path):
    with pytest.raises(CommandError, match=r"no decks \(\*\.md files\) in this folder") as failed:
        run("check", str(tmp_path))
    assert failed.value.returncode == 2


def test_check_a_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(CommandError, match="no such deck file or folder") as failed:
        run("check", str(tmp_path / "nope.md"))
    assert failed.value.returncode == 2


def test_check_an_undecodable_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "latin.md"
    path.write_bytes(b"# Title\n\ncaf\xe9\n")
    with pytest.raises(CommandError, match=r"latin\.md:3: not UTF-8 text") as failed:
        run("check", str(path))
    assert failed.value.returncode == 2
    assert not isinstance(failed.value, DeckFileError)


def test_command_line_errors_have_no_traceback(tmp_path):
    path = tmp_path / "latin.md"
    path.write_bytes(b"caf\xe9\n")
    env = {**os.environ, "PODIUM_INCLUDE_ROOT": str(FIXTURES / "include_root")}
    for target, code in ((path, 2), (tmp_path / "missing.md", 2), (DECKS / "broken.md", 1)):
        done = subprocess.run(
            [sys.executable, "manage.py", "deck", "check", str(target)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == code
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_export_json_prints_the_parsed_structure():
    out, _ = run("export", str(DECKS / "workshop.md"), "--format", "json")
    data = json.loads(out)
    assert data["title"] == "A small workshop"
    assert [s["number"] for s in data["slides"]] == [1, 2, 3, 4]
    first, third = data["slides"][0], data["slides"][2]
    assert set(first) == {"number", "title", "html", "notes_html", "classes", "footer", "is_section", "line", "blocks"}
    assert first["classes"] == ["title-slide"] and first["is_section"] is True
    assert data["slides"][1]["footer"] == "Podium <em>demo</em>"
    assert third["notes_html"] == "<p>Say hello first.</p>"
    assert [(b["id"], b["lexer"], b["runnable"], b["action"], b["line"]) for b in third["blocks"]] == [
        ("s3b0", "bash", True, "Run", 17),
        ("s3b1", "yaml", True, "Apply", 20),
        ("s3b2", "docker", True, "Build", 27),
    ]
    assert third["blocks"][2]["include"] == "app/Dockerfile"
    assert third["blocks"][2]["options"] == {"file": "app/Dockerfile"}
    assert third["blocks"][0]["text"] == 'echo "hello"'
    assert data["problems"] == []


def test_export_json_to_a_file_lists_problems(tmp_path):
    target = tmp_path / "out.json"
    run("export", str(DECKS / "broken.md"), "-o", str(target))
    problems = json.loads(target.read_text())["problems"]
    assert [(p["line"], p["level"]) for p in problems] == [(3, "warning"), (10, "warning"), (12, "error")]


class Resources(HTMLParser):
    """Everything in a page that a browser would fetch: src of any element, href of <link>, url() in CSS."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.sections = 0
        self.in_style = False
        self.styles = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "src" in attrs:
            self.fetched.append(attrs["src"])
        if tag == "link" and "href" in attrs:
            self.fetched.append(attrs["href"])
        if tag == "section":
            self.sections += 1
        self.in_style = tag == "style"

    def handle_data(self, data):
        if self.in_style:
            self.styles += data

    def handle_endtag(self, tag):
        self.in_style = False


def test_export_html_is_one_offline_file_with_every_slide(tmp_path):
    target = tmp_path / "workshop.html"
    run("export", str(DECKS / "workshop.md"), "--format", "html", "-o", str(target))
    page = target.read_text()
    found = Resources()
    found.feed(page)
    assert found.sections == 4
    assert [src.split(",")[0] for src in found.fetched] == ["data:image/svg+xml;base64"]
    assert "url(" not in found.styles
    assert ".highlight" in found.styles  # Pygments CSS is inline
    assert "<script>" in page and "ArrowRight" in page
    assert 'class="qr"><svg' in page
    assert "Say hello first." in page
    for number in range(1, 5):
        assert f'id="slide-{number}"' in page


def test_export_html_of_the_seed_fetches_nothing_from_the_web(tmp_path):
    target = tmp_path / "seed.html"
    _, err = run("export", str(SEED), "--format", "html", "-o", str(target))
    found = Resources()
    found.feed(target.read_text())
    assert found.sections == 39
    assert not [src for src in found.fetched if src.startswith(("http:", "https:", "//"))]
    assert "is on the web; the offline export links to it instead" in err


@pytest.mark.browser
def test_export_html_navigates_with_the_keyboard_offline(tmp_path, artifacts_dir):
    from playwright.sync_api import sync_playwright

    target = tmp_path / "workshop.html"
    run("export", str(DECKS / "workshop.md"), "--format", "html", "-o", str(target))
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(target.as_uri())
            visible = "Array.from(document.querySelectorAll('section.slide')).filter(s => !s.hidden).map(s => s.id)"
            assert page.evaluate(visible) == ["slide-1"]
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            assert page.evaluate(visible) == ["slide-3"]
            assert page.url.endswith("#/3")
            notes = page.locator("#slide-3 .notes")
            assert notes.is_hidden()
            page.keyboard.press("n")
            assert notes.is_visible()
            page.keyboard.press("End")
            assert page.evaluate(visible) == ["slide-4"]
            page.keyboard.press("Home")
            assert page.evaluate(visible) == ["slide-1"]
            page.screenshot(path=str(artifacts_dir / "deck-export-html.png"))
            assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
        finally:
            browser.close()
