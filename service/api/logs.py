"""Logging: one JSON object per line (or plain text for a terminal), with the request id on every
request line.

`logging_config` is a dictConfig for the service's loggers and uvicorn's, so that `serve` hands
the same configuration to every worker process. What a request line holds is decided in
`middleware`: method, route path, status, duration, bytes, request id and loss, never a header
value or a body, so API keys and payloads stay out of the logs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from ..config import Settings

__all__ = ["JsonFormatter", "TextFormatter", "access_record", "logging_config"]

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


# The formatted second of the last timestamp: a busy process formats the same one many times.
_second: tuple[int, str] = (-1, "")


def _timestamp(record: logging.LogRecord) -> str:
    global _second
    second = int(record.created)
    cached, text = _second
    if second != cached:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    return f"{text}.{int(record.msecs):03d}Z"


def access_record(
    name: str, msg: str, args: tuple[Any, ...], fields: dict[str, Any]
) -> logging.LogRecord:
    """The record `logging.getLogger(name).info(msg, *args, extra=fields)` makes, for the
    middleware's request line: a plain INFO LogRecord with `fields` as attributes, made without
    the caller lookup and the collision checks of `extra` (the fields are fixed names)."""
    record = logging.LogRecord(name, logging.INFO, __file__, 0, msg, args, None)
    record.__dict__.update(fields)
    return record


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, pid, message, the extras, any traceback.

    The pid tells which worker answered when `--workers` is above 1.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """A record as one readable line: time, level, logger, message, then the extras as key=value
    (but those the request line's message already shows, and empty ones)."""

    in_message = frozenset({"method", "path", "status"})

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name} {record.getMessage()}"
        extras = " ".join(
            f"{key}={value}"
            for key, value in _extras(record).items()
            if value is not None and key not in self.in_message
        )
        if extras:
            line = f"{line}  {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def logging_config(settings: Settings) -> dict[str, Any]:
    """A logging.config.dictConfig for the service and uvicorn at settings.log_level."""
    level = settings.log_level.upper()
    formatter = "JsonFormatter" if settings.log_format == "json" else "TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"service.api.logs.{formatter}"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "service": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # The service logs each request itself, with its request id.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
