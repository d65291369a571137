"""Logging: one JSON object per line (or plain text for a terminal), written off the request path.

`logging_config` is the dictConfig `serve` hands to uvicorn, so that every worker process logs the
same way, with the standard library's handlers: the service's loggers and uvicorn's share one
`MemoryHandler`, which keeps up to BATCH_RECORDS records (a warning at once) and hands them
together to a `QueueHandler`, whose `QueueListener` thread formats and writes the lines to
stderr. A request line is `logger.info(..., extra=...)`; what it holds is decided in
`service.api.middleware` (never a header value or a body, so keys and payloads stay out).

One record at a time through the queue woke the listener's thread for every request, and that
cost a small request more than the rest of its logging (bench/README.md); in batches it wakes
once for many. The app hands the batch on at least every BATCH_SECONDS (`write_batches_every`),
and, since a worker process of `serve --workers N` ends without atexit, calls `stop_listeners`
when it shuts down: the lines kept are written, and every later line at once.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import logging.handlers
import queue
import time
from typing import Any, TextIO

import orjson

from .config import Settings

__all__ = [
    "JsonFormatter",
    "QueueHandler",
    "TextFormatter",
    "logging_config",
    "stop_listeners",
    "write_batches",
    "write_batches_every",
]

# Records kept before they are handed to the queue at the latest, and seconds between hand-overs.
BATCH_RECORDS = 64
BATCH_SECONDS = 1.0

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
        """Write the lines queued, end the listener's thread; later records are written at once.

        Under the handler's own lock, which `handle` holds around `enqueue`: no record can be
        queued behind the listener's end, where nobody would write it."""
        with self.lock:  # type: ignore[union-attr]  # createLock() made it in Handler.__init__
            listener, self.listener = self.listener, None
            if listener is not None:
                listener.stop()

    def close(self) -> None:
        self.stop()
        if self in _handlers:
            _handlers.remove(self)
        super().close()


def _batches() -> list[logging.handlers.MemoryHandler]:
    """The MemoryHandlers in front of this module's QueueHandlers, on any logger."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    found: dict[int, logging.handlers.MemoryHandler] = {}
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.handlers.MemoryHandler) and isinstance(
                handler.target, QueueHandler
            ):
                found[id(handler)] = handler
    return list(found.values())


def write_batches() -> None:
    """Hand the records kept in batches to the queue, to be written."""
    for batch in _batches():
        batch.flush()


async def write_batches_every(seconds: float = BATCH_SECONDS) -> None:
    """Until cancelled: hand the batches on every `seconds`, so that no line waits longer, however
    few requests come."""
    while True:
        await asyncio.sleep(seconds)
        write_batches()


def stop_listeners() -> None:
    """Write out every line kept or queued in this process, and every later line at once."""
    for batch in _batches():
        batch.capacity = 1  # from now on, each record is handed on as it comes
        batch.flush()
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
            "queue": {
                "()": "service.logs.QueueHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
            "default": {
                "class": "logging.handlers.MemoryHandler",
                "capacity": BATCH_RECORDS,
                "flushLevel": logging.WARNING,
                "target": "queue",
            },
        },
        "loggers": {
            "service": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # The service logs each request itself, with its request id.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
