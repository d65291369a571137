"""The request line's records (AccessLine): made from a template instead of LogRecord.__init__,
they must format as the record `logger.info(msg, *args, extra=fields)` makes, and carry every
attribute such a record has, for the formatters of whoever attaches a handler."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import orjson
import pytest

from service.api import logs
from service.api.logs import AccessLine, AccessRecord, JsonFormatter, TextFormatter
from service.api.middleware import access_line

MSG = "%s %s %d"
ARGS = ("POST", "/v1/losses/huber", 200)
FIELDS: dict[str, Any] = {
    "request_id": "trace-42",
    "method": "POST",
    "path": "/v1/losses/huber",
    "route": "/v1/losses/huber",
    "status": 200,
    "duration_ms": 1.234,
    "bytes_in": 58,
    "bytes_out": 128,
    "loss": None,
}


def ordinary(fields: dict[str, Any] = FIELDS) -> logging.LogRecord:
    """The record the logging module makes for `logger.info(MSG, *ARGS, extra=fields)` (what
    Logger._log makes, once it has found the caller)."""
    logger = logging.getLogger("service.access")
    return logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, MSG, ARGS, None, "ordinary", fields, None
    )


def access(fields: dict[str, Any] = FIELDS) -> AccessRecord:
    return access_line.record(ARGS, dict(fields))


def without_time(line: str) -> dict[str, Any]:
    entry: dict[str, Any] = orjson.loads(line)
    entry.pop("time")
    return entry


@pytest.mark.parametrize("loss", [None, "huber"])
def test_an_access_record_formats_as_an_ordinary_record_with_extra(loss: str | None) -> None:
    fields = {**FIELDS, "loss": loss}
    mine, theirs = access(fields), ordinary(fields)
    json_mine, json_theirs = JsonFormatter().format(mine), JsonFormatter().format(theirs)
    assert list(orjson.loads(json_mine)) == list(orjson.loads(json_theirs))
    assert list(orjson.loads(json_mine)) == [
        "time", "level", "logger", "pid", "message", *FIELDS
    ]  # fmt: skip
    assert without_time(json_mine) == without_time(json_theirs)
    text_mine, text_theirs = TextFormatter().format(mine), TextFormatter().format(theirs)
    assert text_mine.split(" ", 1)[1] == text_theirs.split(" ", 1)[1]
    assert "request_id=trace-42 route=/v1/losses/huber duration_ms=1.234" in text_mine
    assert ("loss=huber" in text_mine) == (loss is not None)


def test_an_access_record_has_every_attribute_of_an_ordinary_record() -> None:
    mine, theirs = access(), ordinary()
    assert isinstance(mine, logging.LogRecord)
    public = {key for key in mine.__dict__ if not key.startswith("_")}
    assert public == set(theirs.__dict__)
    assert list(mine.__dict__)[: len(theirs.__dict__)] == list(theirs.__dict__)
    assert (mine.name, mine.levelno, mine.levelname) == ("service.access", logging.INFO, "INFO")
    assert (mine.msg, mine.args, mine.getMessage()) == (MSG, ARGS, "POST /v1/losses/huber 200")
    assert (mine.process, mine.processName) == (theirs.process, theirs.processName)
    assert (mine.thread, mine.threadName) == (
        threading.get_ident(),
        threading.current_thread().name,
    )
    assert (mine.exc_info, mine.exc_text, mine.stack_info) == (None, None, None)
    assert abs(mine.created - theirs.created) < 5
    assert mine.msecs == int((mine.created - int(mine.created)) * 1000)
    assert mine.relativeCreated > 0
    # A stdlib formatter with every usual field works on it.
    every = " ".join(f"%({key})s" for key in sorted(theirs.__dict__) if key != "message")
    line = logging.Formatter(f"%(asctime)s %(message)s {every}").format(mine)
    assert "POST /v1/losses/huber 200" in line
    assert "trace-42" in line


def test_each_access_record_is_its_own() -> None:
    first = access()
    second = access_line.record(ARGS, {**FIELDS, "request_id": "other", "status": 404})
    assert (first.request_id, first.status) == ("trace-42", 200)  # type: ignore[attr-defined]
    assert (second.request_id, second.status) == ("other", 404)  # type: ignore[attr-defined]
    assert first.__dict__ is not second.__dict__
    assert second.created >= first.created


def test_changes_made_to_an_access_record_after_it_is_made_are_formatted() -> None:
    # What a filter or another formatter does to the record shows, as on any record.
    record = access()
    record.path = "/redacted"  # type: ignore[attr-defined]
    record.trace = "abc"  # type: ignore[attr-defined]
    entry = orjson.loads(JsonFormatter().format(record))
    assert entry["path"] == "/redacted"
    assert list(entry)[-1] == "trace"
    assert "trace=abc" in TextFormatter().format(record)
    record = access()
    del record.loss  # type: ignore[attr-defined]
    record.other = 1  # type: ignore[attr-defined]
    entry = orjson.loads(JsonFormatter().format(record))
    assert "loss" not in entry
    assert entry["other"] == 1
    # A stdlib formatter adds `message` and `asctime`; the JSON line is the same after it.
    record = access()
    before = JsonFormatter().format(record)
    logging.Formatter("%(asctime)s %(message)s").format(record)
    assert without_time(JsonFormatter().format(record)) == without_time(before)


def test_ordinary_records_still_show_their_extras() -> None:
    record = ordinary({"request_id": "r-1", "path": "/x", "count": 3, "empty": None})
    entry = orjson.loads(JsonFormatter().format(record))
    assert list(entry)[5:] == ["request_id", "path", "count", "empty"]
    assert (entry["request_id"], entry["count"], entry["empty"]) == ("r-1", 3, None)
    text = TextFormatter().format(record)
    assert text.endswith("  request_id=r-1 count=3")
    plain = logging.makeLogRecord({"msg": "plain", "_private": 1})
    assert list(orjson.loads(JsonFormatter().format(plain))) == [
        "time", "level", "logger", "pid", "message"
    ]  # fmt: skip


def test_the_timestamp_is_the_record_time_in_utc_with_milliseconds() -> None:
    record = logging.makeLogRecord({"msg": "x"})
    for created, msecs in [(0.0, 0.0), (1_795_000_000.9999, 999.0), (1_795_000_001.05, 50.0)]:
        record.created, record.msecs = created, msecs
        second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(created)))
        expected = f"{second}.{int(msecs):03d}Z"
        assert orjson.loads(JsonFormatter().format(record))["time"] == expected
        assert TextFormatter().format(record).startswith(f"{expected} ")
    assert orjson.loads(JsonFormatter().format(record))["time"] == "2026-11-18T11:06:41.050Z"
    record.msecs = 1234.0  # not a LogRecord's, but formatted all the same
    assert orjson.loads(JsonFormatter().format(record))["time"].endswith(".1234Z")


def test_a_forked_child_makes_its_records_with_its_own_pid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    line = AccessLine("service.access", MSG, ("request_id",))
    assert line.record(ARGS, {"request_id": "a"}).process == os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: 4_000_000)
    logs._forked()  # what os.fork runs in the child
    assert line.record(ARGS, {"request_id": "a"}).process == 4_000_000


def test_the_logging_module_flags_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    line = AccessLine("service.access", MSG, ("request_id",))
    monkeypatch.setattr(logging, "logThreads", False)
    monkeypatch.setattr(logging, "logProcesses", False)
    record = line.record(ARGS, {"request_id": "a"})
    assert (record.thread, record.threadName, record.process) == (None, None, None)
    monkeypatch.setattr(logging, "logProcesses", True)
    assert line.record(ARGS, {"request_id": "a"}).process == os.getpid()


def test_an_access_line_takes_only_its_own_fields() -> None:
    with pytest.raises(ValueError, match="LogRecord attribute"):
        AccessLine("service.access", MSG, ("request_id", "msg"))
    with pytest.raises(ValueError, match="LogRecord attribute"):
        AccessLine("service.access", MSG, ("_size",))
    line = AccessLine("service.access", MSG, ("request_id", "path"))
    with pytest.raises(ValueError, match="the fields are"):
        line.record(ARGS, {"request_id": "a"})
    with pytest.raises(ValueError, match="the fields are"):
        line.record(ARGS, {"request_id": "a", "other": "b"})
