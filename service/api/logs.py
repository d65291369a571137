"""Logging: one JSON object per line (or plain text for a terminal), with the request id on every
request line, written in batches.

`logging_config` is a dictConfig for the service's loggers and uvicorn's, so that `serve` hands
the same configuration to every worker process. What a request line holds is decided in
`middleware`: method, route path, status, duration, bytes, request id and loss, never a header
value or a body, so API keys and payloads stay out of the logs. `BufferedStreamHandler` writes
the lines a batch at a time (at most LOSS_SERVICE_LOG_FLUSH_INTERVAL late, warnings at once), and
`buffer_logs` turns the batching off when the app shuts down, since a worker process may end
without running atexit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
import weakref
from typing import Any, TextIO

import orjson

from ..config import Settings

__all__ = [
    "AccessLine",
    "AccessRecord",
    "BufferedStreamHandler",
    "JsonFormatter",
    "TextFormatter",
    "buffer_logs",
    "logging_config",
]

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
    _flusher.forked()


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


# Lines kept before they are written at the latest (characters; bytes for ASCII lines): nginx's
# `access_log ... buffer=64k`.
BUFFER_CHARS = 64 * 1024
_monotonic = time.monotonic


class BufferedStreamHandler(logging.StreamHandler[TextIO]):
    """A StreamHandler that writes its lines in batches, as Envoy's access log (flushed every
    second) and nginx's `access_log ... buffer=64k flush=1s` do.

    Each record is formatted as StreamHandler formats it (the same characters) and kept; the
    lines kept are written with one write and a flush when
    - they reach `capacity` characters;
    - a record at `flush_level` (WARNING) or above arrives: it is written at once, after the
      lines before it;
    - the oldest is `flush_interval` seconds old: checked at each record, and by one daemon
      thread per process (`_Flusher`), awake every interval and when a line is due, so that an
      idle service holds no line longer than that;
    - flush() or close() is called (logging.shutdown at a normal exit calls both).
    A write(2) per line cost ~5 us of a ~190 us request, and woke the reader of the pipe each
    time. `flush_interval` 0 writes every line at once, as StreamHandler. Thread-safe: lines are
    kept and written under the handler's lock (Handler.handle takes it around emit), so threads
    lose none and split none.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        flush_interval: float = 1.0,
        capacity: int = BUFFER_CHARS,
        flush_level: int = logging.WARNING,
    ) -> None:
        if not 0 <= flush_interval <= 3600:
            raise ValueError(f"flush_interval must be in [0, 3600] seconds, got {flush_interval}")
        super().__init__(stream)
        self.flush_interval = flush_interval
        self.capacity = capacity
        self.flush_level = flush_level
        self._lines: list[str] = []
        self._chars = 0
        self._oldest = 0.0
        # The interval in force: 0 while batching is off (`buffer_logs(False)`).
        self._hold = flush_interval
        self._watched = False

    def set_buffering(self, on: bool) -> None:
        """Keep lines as configured (on), or write the ones kept and every later one at once."""
        self.acquire()
        try:
            self._hold = self.flush_interval if on else 0.0
            if not on:
                self._write_lines()
        except Exception:
            self.handleError(_FLUSH_RECORD)
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            lines = self._lines
            if self._hold <= 0 and not lines:  # not batching: StreamHandler's write
                stream = self.stream
                stream.write(line)
                if hasattr(stream, "flush"):
                    stream.flush()
                return
            lines.append(line)
            self._chars += len(line)
            now = _monotonic()
            if len(lines) == 1:
                self._oldest = now
                if not self._watched and self._hold > 0:
                    self._watched = True
                    _flusher.watch(self)
            if (
                now - self._oldest >= self._hold
                or record.levelno >= self.flush_level
                or self._chars >= self.capacity
            ):
                self._write_lines()
        except RecursionError:  # as StreamHandler: see issue 36272
            raise
        except Exception:
            self.handleError(record)

    def _write_lines(self) -> None:
        """Write the lines kept, with one write and a flush; the caller holds the lock.

        The lines are let go before the write, as StreamHandler loses a line it fails to write:
        a stream that keeps failing does not make them pile up.
        """
        if not self._lines:
            return
        text = "".join(self._lines)
        self._lines = []
        self._chars = 0
        stream = self.stream
        stream.write(text)
        if hasattr(stream, "flush"):
            stream.flush()

    def flush(self) -> None:
        """Write the lines kept, and flush the stream."""
        self.acquire()
        try:
            self._write_lines()
        except Exception:
            self.handleError(_FLUSH_RECORD)
        finally:
            self.release()
        super().flush()

    def due(self) -> float | None:
        """When the oldest line kept is due (time.monotonic), None if none is kept; read without
        the lock, for the flusher to know how long it may sleep (write_due checks again)."""
        return self._oldest + self._hold if self._lines else None

    def write_due(self) -> None:
        """The flusher's call: write the lines kept if the oldest is `flush_interval` old."""
        self.acquire()
        try:
            if self._lines and _monotonic() - self._oldest >= self._hold:
                self._write_lines()
        except Exception:
            self.handleError(_FLUSH_RECORD)
        finally:
            self.release()

    def forked(self) -> None:
        """In a forked child: the lines kept are the parent's to write, and no thread watches."""
        self._lines = []
        self._chars = 0
        self._watched = False

    def close(self) -> None:
        try:
            self.flush()
        finally:
            _flusher.forget(self)
            self._watched = False
            super().close()


# What handleError reports when a batch of lines could not be written: no one record failed.
_FLUSH_RECORD = logging.makeLogRecord({"msg": "writing buffered log lines"})


class _Flusher:
    """The daemon thread of a process that writes out what BufferedStreamHandlers have kept for
    their interval, so that lines do not wait for the next record. Started at the first line kept
    (lazily: importing the module starts nothing), ended when no handler is left, and a forked
    child starts its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.handlers: weakref.WeakSet[BufferedStreamHandler] = weakref.WeakSet()
        self.thread: threading.Thread | None = None

    def watch(self, handler: BufferedStreamHandler) -> None:
        with self.lock:
            self.handlers.add(handler)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self._run, name="loss-service-log-flusher", daemon=True
                )
                self.thread.start()

    def forget(self, handler: BufferedStreamHandler) -> None:
        with self.lock:
            self.handlers.discard(handler)

    def forked(self) -> None:
        # The parent's thread does not run in the child; the child's handlers start another.
        self.lock = threading.Lock()
        self.thread = None
        for handler in list(self.handlers):
            handler.forked()
        self.handlers = weakref.WeakSet()

    def _run(self) -> None:
        while (wait := self._write_due()) is not None:
            time.sleep(wait)

    def _write_due(self) -> float | None:
        """Write the lines that are due; how long to sleep then, None to end the thread (no
        handler is left). A method of its own so that no handler stays referenced in a sleep."""
        with self.lock:
            handlers = list(self.handlers)
            if not handlers:
                self.thread = None
                return None
        for handler in handlers:
            handler.write_due()
        # Asleep for an interval, or until the oldest line kept is due: a line is written when
        # it is an interval old, not later, however the wake-ups fall.
        now = _monotonic()
        wait = min(handler.flush_interval for handler in handlers)
        for handler in handlers:
            due = handler.due()
            if due is not None:
                wait = min(wait, max(due - now, 0.001))
        return wait


_flusher = _Flusher()


def buffer_logs(on: bool) -> None:
    """Turn batching on (as configured) or off for the service's and uvicorn's log handlers, and
    flush them all when turning it off.

    The app turns it off when it shuts down: a worker process of `serve --workers N` ends without
    atexit (uvicorn re-raises SIGTERM with its default action), so nothing would write the lines
    kept at that point, nor the server's last lines after them.
    """
    seen: set[int] = set()
    for name in ("", "service", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if id(handler) in seen:
                continue
            seen.add(id(handler))
            if isinstance(handler, BufferedStreamHandler):
                handler.set_buffering(on)
            if not on:
                handler.flush()


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
                "class": "service.api.logs.BufferedStreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
                "flush_interval": settings.log_flush_interval,
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
