"""Log lines written in batches (LOSS_SERVICE_LOG_FLUSH_INTERVAL): kept until the interval, a
warning, 64 KiB or a flush; the same characters as StreamHandler's; nothing lost or split across
threads or forks; and with the real server, a line out within the interval and every access line
of a stopped server in its log, with one worker and with two."""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

import service.api.logs as logs
from service.api.logs import (
    BUFFER_CHARS,
    BufferedStreamHandler,
    JsonFormatter,
    TextFormatter,
    buffer_logs,
    logging_config,
)
from service.config import Settings

from .live import LiveServer, live_server, wait_until

SHORT = 0.2  # seconds: the interval of the tests that wait for it
SLACK = 3.0  # seconds past the interval that a busy test machine may take to write
MSE = "/v1/losses/mse"


class Writes(io.StringIO):
    """A stream that remembers each write and when it came (time.monotonic)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, str]] = []
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.writes.append((time.monotonic(), text))
        return super().write(text)

    def texts(self) -> list[str]:
        with self.lock:
            return [text for _, text in self.writes]


def record(message: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    made = logging.getLogger("service.access").makeRecord(
        "service.access", level, __file__, 1, message, (), None, extra=extra
    )
    return made


@pytest.fixture
def make_handler() -> Iterator[Callable[..., tuple[BufferedStreamHandler, Writes]]]:
    """A BufferedStreamHandler with the JSON formatter on a stream that records its writes;
    closed at the end."""
    made: list[BufferedStreamHandler] = []

    def make(**options: float) -> tuple[BufferedStreamHandler, Writes]:
        stream = Writes()
        handler = BufferedStreamHandler(stream, **options)  # type: ignore[arg-type]
        handler.setFormatter(JsonFormatter())
        made.append(handler)
        return handler, stream

    yield make
    for handler in made:
        handler.close()


def messages(text: str) -> list[str]:
    return [orjson.loads(line)["message"] for line in text.splitlines()]


def test_lines_wait_for_the_interval_then_go_out_in_one_write(
    make_handler: Callable[..., tuple[BufferedStreamHandler, Writes]],
) -> None:
    handler, stream = make_handler(flush_interval=SHORT)
    first = time.monotonic()
    for index in range(3):
        handler.handle(record(f"line {index}"))
    assert stream.writes == []
    # No further record arrives: the process's flusher thread writes them.
    wait_until(lambda: stream.writes, SHORT + SLACK, "the kept lines are written")
    [(written_at, text)] = stream.writes
    assert written_at - first >= SHORT
    assert messages(text) == ["line 0", "line 1", "line 2"]


def test_a_record_after_the_interval_writes_the_lines_kept(
    make_handler: Callable[..., tuple[BufferedStreamHandler, Writes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check at each record, without the flusher thread."""
    monkeypatch.setattr(logs._flusher, "watch", lambda handler: None)
    handler, stream = make_handler(flush_interval=SHORT)
    handler.handle(record("old"))
    kept_at = time.monotonic()
    handler.handle(record("young"))
    assert stream.writes == []
    time.sleep(max(0.0, kept_at + SHORT - time.monotonic()) + 0.01)
    handler.handle(record("late"))
    assert [messages(text) for text in stream.texts()] == [["old", "young", "late"]]


def test_a_warning_goes_out_at_once_after_the_lines_before_it(
    make_handler: Callable[..., tuple[BufferedStreamHandler, Writes]],
) -> None:
    handler, stream = make_handler(flush_interval=60)
    handler.handle(record("first"))
    handler.handle(record("second"))
    assert stream.writes == []
    handler.handle(record("careful", logging.WARNING))
    assert [messages(text) for text in stream.texts()] == [["first", "second", "careful"]]
    handler.handle(record("after"))
    handler.handle(record("broken", logging.ERROR))
    assert [messages(text) for text in stream.texts()][1:] == [["after", "broken"]]


def test_64_kib_of_lines_go_out_at_once(
    make_handler: Callable[..., tuple[BufferedStreamHandler, Writes]],
) -> None:
    handler, stream = make_handler(flush_interval=60)
    sent = 0
    while not stream.writes:
        assert sent < 1000, "64 KiB kept and not written"
        handler.handle(record(f"line {sent}", padding="x" * 300))
        sent += 1
    [text] = stream.texts()
    assert len(text) >= BUFFER_CHARS
    assert len(text) - len(text.splitlines(keepends=True)[-1]) < BUFFER_CHARS
    assert messages(text) == [f"line {index}" for index in range(sent)]
    handler.handle(record("next"))
    assert len(stream.writes) == 1


def test_flush_and_close_write_what_is_kept(
    make_handler: Callable[..., tuple[BufferedStreamHandler, Writes]],
) -> None:
    handler, stream = make_handler(flush_interval=60)
    handler.handle(record("one"))
    handler.flush()
    assert [messages(text) for text in stream.texts()] == [["one"]]
    handler.handle(record("two"))
    handler.close()
    assert [messages(text) for text in stream.texts()] == [["one"], ["two"]]


def test_interval_0_writes_each_line_at_once(
    make_handler: Callable[..., tuple[BufferedStreamHandler, Writes]],
) -> None:
    handler, stream = make_handler(flush_interval=0)
    for index in range(3):
        handler.handle(record(f"line {index}"))
        assert len(stream.writes) == index + 1
    assert [messages(text) for text in stream.texts()] == [["line 0"], ["line 1"], ["line 2"]]


def test_buffering_off_writes_what_is_kept_and_every_later_line(
    make_handler: Callable[..., tuple[BufferedStreamHandler, Writes]],
) -> None:
    """What the app does when it shuts down, on the service's and uvicorn's handlers."""
    handler, stream = make_handler(flush_interval=60)
    service = logging.getLogger("service")
    service.addHandler(handler)
    try:
        handler.handle(record("kept"))
        buffer_logs(False)
        assert [messages(text) for text in stream.texts()] == [["kept"]]
        handler.handle(record("Finished server process"))
        assert len(stream.writes) == 2
        buffer_logs(True)
        handler.handle(record("kept again"))
        assert len(stream.writes) == 2
    finally:
        service.removeHandler(handler)


def records_of_every_kind() -> list[logging.LogRecord]:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.getLogger("service.error").makeRecord(
            "service.error", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    return [
        record("POST /v1/losses/huber 200", request_id="r-1", status=200, loss="huber"),
        record("naïve ünïcode ✓ %s", path="/v1/ä"),
        record("debug line", logging.DEBUG),
        failed,
        record("after the error"),
    ]


@pytest.mark.parametrize("formatter", [JsonFormatter, TextFormatter])
def test_lines_are_the_same_characters_as_streamhandlers(
    formatter: type[logging.Formatter],
) -> None:
    plain, buffered = io.StringIO(), io.StringIO()
    reference = logging.StreamHandler(plain)
    handler = BufferedStreamHandler(buffered, flush_interval=60)
    for each in (reference, handler):
        each.setFormatter(formatter())
    for made in records_of_every_kind():
        reference.handle(made)
        handler.handle(made)
    handler.close()
    assert buffered.getvalue() == plain.getvalue()
    assert "Traceback" in plain.getvalue()


def test_threads_lose_no_line_and_split_none(
    make_handler: Callable[..., tuple[BufferedStreamHandler, Writes]],
) -> None:
    # A small buffer and interval: writes by size, by time (emit and thread) and by warnings mix.
    handler, stream = make_handler(flush_interval=0.01, capacity=4096)
    threads, per_thread = 8, 1500
    start = threading.Barrier(threads)

    def log(thread: int) -> None:
        start.wait()
        for index in range(per_thread):
            level = logging.WARNING if index % 500 == 499 else logging.INFO
            handler.handle(record("line", level, writer=thread, index=index))

    workers = [threading.Thread(target=log, args=(thread,)) for thread in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert not worker.is_alive()
    handler.flush()
    texts = stream.texts()
    assert len(texts) > threads, "not written in several batches"
    assert all(text.endswith("\n") for text in texts), "a write ended mid-line"
    lines = [orjson.loads(line) for line in "".join(texts).splitlines()]
    assert len(lines) == threads * per_thread
    for thread in range(threads):
        indices = [line["index"] for line in lines if line["writer"] == thread]
        assert indices == list(range(per_thread)), f"thread {thread}: lost or reordered"


def test_a_forked_child_writes_its_own_lines_not_its_parents(tmp_path: Path) -> None:
    path = tmp_path / "forked.log"
    with path.open("a") as stream:
        handler = BufferedStreamHandler(stream, flush_interval=SHORT)
        handler.setFormatter(JsonFormatter())
        handler.handle(record("parent, kept at the fork"))
        pid = os.fork()
        if pid == 0:  # the child: its line goes out through its own flusher thread
            status = 1
            try:
                handler.handle(record("child"))
                deadline = time.monotonic() + SHORT + SLACK
                while handler.due() is not None and time.monotonic() < deadline:
                    time.sleep(0.01)
                status = 0 if handler.due() is None else 2
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child's line was not written"
        handler.close()
    assert sorted(messages(path.read_text())) == ["child", "parent, kept at the fork"]


def test_the_setting_reaches_the_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    config = logging_config(Settings())
    handler = config["handlers"]["default"]
    assert handler["class"] == "service.api.logs.BufferedStreamHandler"
    assert handler["flush_interval"] == 1.0
    monkeypatch.setenv("LOSS_SERVICE_LOG_FLUSH_INTERVAL", "0")
    assert logging_config(Settings())["handlers"]["default"]["flush_interval"] == 0
    for wrong in ("-1", "61", "inf", "nan", "soon"):
        monkeypatch.setenv("LOSS_SERVICE_LOG_FLUSH_INTERVAL", wrong)
        with pytest.raises(ValueError, match="log_flush_interval"):
            Settings()


# The live server: the interval reaches the workers, and a SIGTERM stop loses no line.


def access_ids(server: LiveServer) -> list[str]:
    """The request ids of the compute requests' access lines in the server's log."""
    return [line["request_id"] for line in server.access_lines() if line["path"] == MSE]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_live_line_is_written_within_the_interval(tmp_path: Path, workers: int) -> None:
    with (
        live_server(tmp_path, workers=workers, log_flush_interval=str(SHORT)) as server,
        server.client() as client,
    ):
        for index in range(5):
            request_id = f"soon-{workers}-{index}"
            response = client.post(
                MSE,
                json={"predictions": [1.0], "targets": [2.0]},
                headers={"x-request-id": request_id},
            )
            assert response.status_code == 200

            def written(request_id: str = request_id) -> bool:
                return request_id in access_ids(server)

            # wait_until fails the test past this bound.
            wait_until(written, SHORT + SLACK, f"the access line of {request_id} is written")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sigterm_stop_writes_every_access_line(tmp_path: Path, workers: int) -> None:
    # The longest interval: what is in the log at the end was written by the stop.
    with live_server(tmp_path, workers=workers, log_flush_interval="60") as server:
        sent = [f"stop-{workers}-{index}" for index in range(40)]
        for request_id in sent:
            # A connection of its own per request, so that both workers get some.
            with server.client() as client:
                response = client.post(
                    MSE,
                    json={"predictions": [1.0, 2.0], "targets": [2.0, 2.0]},
                    headers={"x-request-id": request_id},
                )
            assert response.status_code == 200
        assert not set(sent) & set(access_ids(server)), "written before the stop: not buffered"
        assert server.terminate() == 0
    assert sorted(access_ids(server)) == sorted(sent)
    # The server's last lines, after the app shut down, are there too: one per worker process.
    messages = [line["message"] for line in server.log_lines()]
    finished = [message for message in messages if message.startswith("Finished server process")]
    assert len(finished) == workers, messages
