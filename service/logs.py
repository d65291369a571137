"""Logging: one JSON object per line (or plain text for a terminal), written off the request path.

`logging_config` is the dictConfig `serve` hands to uvicorn, so that every worker process logs the
same way: the service's loggers and uvicorn's share one `QueueHandler`, which puts each record
on a queue, and the standard library's `QueueListener` thread formats and writes the lines to
stderr. A request line is `logger.info(..., extra=...)`; what it holds is decided in
`middleware` (never a header value or a body, so API keys and payloads stay out of the logs).

A worker process of `serve --workers N` ends without atexit, so the app calls `stop_listeners`
when it shuts down: the lines queued are written, and every later line is written at once.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import threading
import time
from typing import Any, TextIO

import orjson

from .config import Settings

__all__ = ["JsonFormatter", "QueueHandler", "TextFormatter", "logging_config", "stop_listeners"]

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The record's attributes that came in through `extra=`, in the order they were set."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


def _timestamp(record: logging.LogRecord) -> str:
    """The record's time in UTC, ISO 8601 with milliseconds."""
    second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{second}.{int(record.msecs):03d}Z"


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
            **_extras(record),
        }
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


_handlers: list[QueueHandler] = []


class QueueHandler(logging.handlers.QueueHandler):
    """The standard library's QueueHandler with its QueueListener, writing to `stream`.

    The caller only queues the record; the listener's thread formats it (with this handler's
    formatter) and writes the line. The queue never leaves the process, so `prepare` passes the
    record on as it is instead of formatting and copying it as a record bound for another
    process must be. Once `stop` has run (the app shutting down, or the process exiting)
    records are written by the caller, so that the server's last lines are not lost.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(queue.SimpleQueue())
        self.target = logging.StreamHandler(stream)
        self.listener: logging.handlers.QueueListener | None = logging.handlers.QueueListener(
            self.queue, self.target
        )
        self._lock = threading.Lock()
        self.listener.start()
        _handlers.append(self)

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        self.target.setFormatter(fmt)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.listener is None:
            self.target.handle(record)
        else:
            super().enqueue(record)

    def stop(self) -> None:
        """Write the lines queued, end the listener's thread; later records are written at once."""
        with self._lock:
            listener, self.listener = self.listener, None
        if listener is not None:
            listener.stop()

    def close(self) -> None:
        self.stop()
        super().close()


def stop_listeners() -> None:
    """Write out every line queued, in this process, and write later ones at once."""
    for handler in list(_handlers):
        handler.stop()


atexit.register(stop_listeners)


def logging_config(settings: Settings) -> dict[str, Any]:
    """A logging.config.dictConfig for the service and uvicorn at settings.log_level."""
    level = settings.log_level.upper()
    formatter = "JsonFormatter" if settings.log_format == "json" else "TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"service.logs.{formatter}"}},
        "handlers": {
            "default": {
                "()": "service.logs.QueueHandler",
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
