"""A self-paced learner's progress survives a reload: a real daphne, a real Docker sandbox, headless Chromium.

The learner runs three steps (two succeed, one fails), moves to another slide and
reloads the deck's plain address: the page lands on the slide they were on, shows
"2 of 4 steps done", marks exactly the two succeeded blocks done and still shows
their output.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import PodiumServer, Watch, deck_open
from tests.browser.run_deck import (
    COUNTING,
    FAILING,
    FIRST_RUN,
    PYTHON,
    RUN,
    SLUG,
    docker_podium,
    person_context,
    show_slide,
    wait_badge,
)

pytestmark = [pytest.mark.browser, pytest.mark.docker]


@pytest.fixture(scope="module")
def progress_server(tmp_path_factory, docker_client) -> Iterator[PodiumServer]:
    with docker_podium(tmp_path_factory.mktemp("progress"), docker_client, name="browser-progress") as server:
        yield server


def _done_blocks(page) -> list[str]:
    return page.eval_on_selector_all("#stage .code-block[data-step-done]", "els => els.map(e => e.dataset.block)")


def test_a_learner_reloads_and_finds_their_slide_outputs_and_steps_done(chromium, progress_server, artifacts_dir):
    watch = Watch()
    context = person_context(chromium, watch)
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: watch.errors.append(f"{page.url}: {error}"))
        deck_open(page, progress_server.url(f"/decks/{SLUG}/"))
        page.wait_for_selector("#progress-steps")

        show_slide(page, PYTHON)
        page.click(f"#slide-{PYTHON} .run-button")
        wait_badge(page, PYTHON, "^exit 0$", timeout=FIRST_RUN)
        show_slide(page, COUNTING)
        page.click(f"#slide-{COUNTING} .run-button")
        wait_badge(page, COUNTING, "^exit 0$")
        show_slide(page, FAILING)
        page.click(f"#slide-{FAILING} .run-button")
        wait_badge(page, FAILING, "^exit 3$")
        assert page.text_content("#progress-steps") == "2 of 4 steps done"
        show_slide(page, COUNTING)
        page.wait_for_timeout(1500)  # the slide is stored at most once a second

        deck_open(page, progress_server.url(f"/decks/{SLUG}/"))  # the plain address: no #/N
        page.wait_for_selector(f"#slide-{COUNTING}.is-current", timeout=RUN)
        page.wait_for_function(
            "() => document.querySelector('#progress-steps')?.textContent === '2 of 4 steps done'", timeout=RUN
        )
        assert sorted(_done_blocks(page)) == sorted([f"s{COUNTING}b0", f"s{PYTHON}b0"])
        assert "line 5" in page.inner_text(f"#stage #slide-{COUNTING} .xterm-rows")
        page.screenshot(path=str(artifacts_dir / "progress-after-reload.png"))
        assert watch.offsite == [] and watch.errors == []
    finally:
        context.close()
