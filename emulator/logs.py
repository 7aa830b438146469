"""How the emulator's log looks: one human line per happening (the default), or one JSON object per line.

The emulator's own loggers (`emulator.*`) print at the chosen level; its activity lines are INFO, so they
show by default. The server's lifecycle chatter (uvicorn's "Started server process" and friends) is left out
unless the level is debug, and access lines are off unless asked for: the activity log already says what
each request did that matters.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
LEVELS = ("critical", "error", "warning", "info", "debug")


class TextFormatter(logging.Formatter):
    """`12:00:01.234 call.placed       call call_… placed: …`; other records carry their level and logger."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.") + f"{int(record.msecs):03d}"
        happening = getattr(record, "happening", None)
        if happening is not None:
            line = f"{stamp} {happening.kind:<17} {record.getMessage()}"
        else:
            line = f"{stamp} {record.levelname:<17} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message; a happening adds its kind, emulator time,
    accounts and figures."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        happening = getattr(record, "happening", None)
        if happening is not None:
            out.update(event=happening.kind, seq=happening.seq, emulatorTime=happening.at,
                       accounts=sorted(happening.accounts))
            out.update({k: v for k, v in happening.data.items() if k not in out})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def config(level: str = "info", fmt: str = "text", access_log: bool = False) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the server (uvicorn applies it at start)."""
    formatter = "json" if fmt == "json" else "text"
    upper = level.upper()
    server = upper if level == "debug" else max(upper, "WARNING", key=logging.getLevelName)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"()": "emulator.logs.TextFormatter"},
            "json": {"()": "emulator.logs.JsonFormatter"},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "emulator": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": server, "propagate": False},
            "uvicorn.error": {"level": server},
            "uvicorn.access": {"handlers": ["stderr"] if access_log else [], "level": "INFO",
                               "propagate": False},
        },
    }
