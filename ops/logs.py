"""PODIUM_LOG_FORMAT=json: one JSON object per log line, for log collectors.

Each line has the time, level, logger and message, the ids a record carries
(`extra={"attendee": ..., "sandbox": ..., "run": ..., "room": ...}`) and the
traceback of an exception. Podium never logs an attendee's code or output,
in either format.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

IDS = ("attendee", "sandbox", "run", "room")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({name: str(getattr(record, name)) for name in IDS if getattr(record, name, None) is not None})
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
