"""Logging: one JSON object per line (or plain text for a terminal), with the request id on every
request line.

`logging_config` is a dictConfig for the service's loggers and uvicorn's, so that `serve` hands
the same configuration to every worker process. What a request line holds is decided in
`middleware`: method, route path, status, duration, bytes, request id and loss, never a header
value or a body, so API keys and payloads stay out of the logs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from typing import Any

import orjson

from ..config import Settings

__all__ = ["AccessLine", "AccessRecord", "JsonFormatter", "TextFormatter", "logging_config"]

# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def _scan(attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in attributes.items()
        if key not in _STANDARD and not key.startswith("_")
    }


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The record's attributes that came in through `extra=`, in the order they were set.

    An AccessRecord names its own (`_extra_names`), which spares the scan of every attribute;
    if an attribute was added to it or removed since it was made, the scan decides, as for any
    record.
    """
    attributes = record.__dict__
    names = attributes.get("_extra_names")
    if names is not None and len(attributes) == attributes["_size"]:
        try:
            return {name: attributes[name] for name in names}
        except KeyError:
            pass
    return _scan(attributes)


# The formatted second of the last timestamp (a busy process formats the same one many times),
# and the milliseconds' endings.
_second: tuple[int, str] = (-1, "")
_MILLIS = tuple(f".{millis:03d}Z" for millis in range(1000))


def _timestamp(record: logging.LogRecord) -> str:
    global _second
    second = int(record.created)
    cached, text = _second
    if second != cached:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, text)
    millis = int(record.msecs)
    return text + _MILLIS[millis] if 0 <= millis < 1000 else f"{text}.{millis:03d}Z"


class AccessRecord(logging.LogRecord):
    """A request line's record: a LogRecord with every attribute LogRecord.__init__ gives one,
    made by `AccessLine.record` from a per-process template instead (LogRecord.__init__ works out
    the file name, the module and the process name again for every record)."""


# Bumped in a forked child: the templates made before hold the parent's pid and process name.
_forks = 0


def _forked() -> None:
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_forked)
_new_record = object.__new__
_current_thread = threading.current_thread
_get_ident = threading.get_ident
_time = time.time
_time_ns = time.time_ns
_start: float = logging._startTime  # type: ignore[attr-defined]


class AccessLine:
    """The records of one kind of INFO line with fixed extra fields, the middleware's request
    line: `line.record(args, fields)` is the record that
    `logging.getLogger(logger).info(msg, *args, extra=fields)` makes, without the caller lookup
    and the checks of `extra` (the fields' names are fixed, in the order of `names`) and without
    LogRecord.__init__.

    The record is a copy of a template (a LogRecord made once per process, with places for the
    fields), with what changes per record set as LogRecord.__init__ sets it: the time, and the
    thread and the asyncio task when the logging module's flags ask for them. It names its
    fields (`_extra_names`), so the formatters need not scan its attributes for them.
    """

    def __init__(self, logger: str, msg: str, names: tuple[str, ...]) -> None:
        clash = _STANDARD.intersection(names) or [name for name in names if name[:1] == "_"]
        if clash:
            raise ValueError(f"fields would overwrite a LogRecord attribute: {sorted(clash)}")
        self.logger = logger
        self.msg = msg
        self.names = names
        self._made_for: tuple[int, bool, bool] | None = None
        self._template: dict[str, Any] = {}

    def _make_template(self, made_for: tuple[int, bool, bool]) -> dict[str, Any]:
        template = logging.LogRecord(
            self.logger, logging.INFO, __file__, 0, self.msg, None, None
        ).__dict__
        template.update(dict.fromkeys(self.names))
        template["_extra_names"] = self.names
        template["_size"] = len(template) + 1
        self._template, self._made_for = template, made_for
        return template

    def record(self, args: tuple[Any, ...], fields: dict[str, Any]) -> AccessRecord:
        made_for = (_forks, logging.logProcesses, logging.logMultiprocessing)
        template = self._template if made_for == self._made_for else None
        attributes = (template or self._make_template(made_for)).copy()
        attributes["args"] = args
        if sys.version_info >= (3, 13):
            now_ns = _time_ns()
            now = attributes["created"] = now_ns / 1e9
            msecs = (now_ns % 1_000_000_000) // 1_000_000 + 0.0
            if msecs == 999.0 and int(now) != now_ns // 1_000_000_000:
                msecs = 0.0
            attributes["msecs"] = msecs
            attributes["relativeCreated"] = (now_ns - _start) / 1e6
        else:
            now = attributes["created"] = _time()
            attributes["msecs"] = int((now - int(now)) * 1000) + 0.0
            attributes["relativeCreated"] = (now - _start) * 1000
        if logging.logThreads:
            attributes["thread"] = _get_ident()
            attributes["threadName"] = _current_thread().name
        if sys.version_info >= (3, 12) and getattr(logging, "logAsyncioTasks", False):
            attributes["taskName"] = _task_name()
        attributes.update(fields)
        if len(fields) != len(self.names) or len(attributes) != attributes["_size"]:
            raise ValueError(f"the fields are {self.names}, given {tuple(fields)}")
        record: AccessRecord = _new_record(AccessRecord)
        record.__dict__ = attributes
        return record


def _task_name() -> str | None:
    """The current asyncio task's name, as LogRecord.__init__ finds it (Python 3.12+)."""
    try:
        task = asyncio.current_task()
    except Exception:  # no running event loop
        return None
    return task.get_name() if task is not None else None


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, pid, message, the extras, any traceback.

    The pid tells which worker answered when `--workers` is above 1.
    """

    def format(self, record: logging.LogRecord) -> str:
        attributes = record.__dict__
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        names = attributes.get("_extra_names")
        if names is not None and len(attributes) == attributes["_size"]:
            try:
                for name in names:
                    entry[name] = attributes[name]
            except KeyError:
                entry.update(_scan(attributes))
        else:
            entry.update(_scan(attributes))
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
