"""PODIUM_LOG_FORMAT=json: a log line a collector can parse, with the ids a record carries."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from ops.logs import JsonFormatter

ROOT = Path(__file__).resolve().parents[2]


def test_a_json_line_has_time_level_logger_message_ids_and_the_traceback():
    logger = logging.getLogger("podium.test")
    try:
        raise ValueError("the engine said no")
    except ValueError:
        record = logger.makeRecord(
            "podium.test",
            logging.WARNING,
            __file__,
            1,
            "run %s failed",
            ("r1",),
            sys.exc_info(),
            extra={"attendee": "a1", "run": "r1"},
        )
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "podium.test", "run r1 failed")
    assert (line["attendee"], line["run"]) == ("a1", "r1") and "sandbox" not in line
    assert line["time"].endswith("+00:00") and "ValueError: the engine said no" in line["error"]


def test_an_unknown_log_format_stops_the_server_with_a_sentence_naming_the_setting():
    env = {**os.environ, "PODIUM_LOG_FORMAT": "xml"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert 'PODIUM_LOG_FORMAT must be "line" or "json", not \'xml\'' in result.stderr
