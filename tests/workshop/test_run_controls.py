"""Run controls put into a slide's HTML: "Check my work" where a step check was written, on or off."""

from __future__ import annotations

from tests.deck_text import BUILD_AND_CHECK, deck_from_text
from workshop.run_controls import slide_html_with_runs


def test_the_live_page_puts_check_my_work_in_that_place(tmp_path):
    slide = deck_from_text(tmp_path, BUILD_AND_CHECK).slides[0]
    html = slide_html_with_runs(slide, unavailable="")
    assert html.count("Check my work") == 1 and 'data-check-button="s1b0"' in html
    assert "image inspect" not in html
    # Without a working backend the button is there but off, saying why.
    off = slide_html_with_runs(slide, unavailable="Run is not available: no engine.")
    assert 'title="Run is not available: no engine." disabled' in off
