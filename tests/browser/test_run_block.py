"""static/podium/js/runs/run_block.js in the browser: the one format of a run's elapsed time.

The presenter's talk timer is another thing with its own clock-like display (deck/timer.js, "01:02:03").
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_elapsed_time_reads_in_tenths_then_seconds_then_minutes(new_page, podium_server, watch):
    page = new_page()
    page.goto(podium_server.url("/"))
    shown = page.evaluate(
        """async () => {
          const { formatElapsed } = await import('/static/podium/js/runs/run_block.js');
          const { formatTimer } = await import('/static/podium/js/deck/timer.js');
          return {
            runs: [-5, 400, 9949, 12000, 59999, 125000].map(formatElapsed),
            timer: formatTimer(3723000),
          };
        }"""
    )
    assert shown["runs"] == ["0.0 s", "0.4 s", "9.9 s", "12 s", "59 s", "2:05"]
    assert shown["timer"] == "01:02:03"
    assert watch.errors == [] and watch.offsite == []
