"""Log lines written off the request path with the standard library's handlers: kept in batches
(MemoryHandler), formatted and written by a QueueListener's thread; the same characters as a
StreamHandler writes; nothing lost or split across threads; written at once after a stop; and
with the real server, a line out within the batch interval and every access line of a stopped
server in its log, with one worker and with two."""

from __future__ import annotations

import io
import logging
import logging.config
import logging.handlers
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import Settings
from service.logs import (
    BATCH_RECORDS,
    BATCH_SECONDS,
    JsonFormatter,
    QueueHandler,
    TextFormatter,
    logging_config,
    stop_listeners,
    write_batches,
)

from .live import LiveServer, live_server, wait_until

SLACK = 3.0  # seconds that a busy test machine may take to write a line
MSE = "/v1/losses/mse"


class Writes(io.StringIO):
    """A stream that records which thread wrote each piece, and can be held shut."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []
        self.open = threading.Event()
        self.open.set()

    def write(self, text: str) -> int:
        assert self.open.wait(10), "the stream was never opened"
        self.threads.append(threading.current_thread())
        return super().write(text)


@pytest.fixture
def handler() -> Iterator[tuple[QueueHandler, Writes]]:
    stream = Writes()
    made = QueueHandler(stream)
    made.setFormatter(JsonFormatter())
    yield made, stream
    made.close()


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.makeLogRecord({"name": "service.access", "msg": message, "levelno": 20})
    made.levelname = "INFO"
    made.__dict__.update(extra)
    return made


def test_a_line_is_written_by_the_listener_not_the_caller(
    handler: tuple[QueueHandler, Writes],
) -> None:
    queued, stream = handler
    stream.open.clear()  # the stream blocks: the caller must not wait for it
    queued.handle(record("GET /healthz 200", request_id="a"))
    assert stream.getvalue() == ""
    stream.open.set()
    wait_until(stream.getvalue, SLACK, "the line is written")
    assert stream.threads
    assert threading.current_thread() not in stream.threads
    assert '"request_id":"a"' in stream.getvalue()


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()])
def test_lines_are_the_same_characters_as_streamhandlers(
    handler: tuple[QueueHandler, Writes], formatter: logging.Formatter
) -> None:
    queued, stream = handler
    queued.setFormatter(formatter)
    plain = io.StringIO()
    direct = logging.StreamHandler(plain)
    direct.setFormatter(formatter)
    for index in range(3):
        made = record("POST /v1/losses/mse 200", request_id=str(index), loss="mse")
        queued.handle(made)
        direct.handle(made)
    queued.stop()
    assert stream.getvalue() == plain.getvalue()
    assert stream.getvalue().count("\n") == 3


def test_a_stop_writes_what_is_queued_and_later_lines_at_once(
    handler: tuple[QueueHandler, Writes],
) -> None:
    queued, stream = handler
    stream.open.clear()
    for index in range(50):
        queued.handle(record(f"line {index}"))
    stream.open.set()
    queued.stop()
    assert stream.getvalue().count("\n") == 50
    queued.handle(record("after the stop"))
    assert stream.getvalue().count("\n") == 51
    assert stream.threads[-1] is threading.current_thread()


def test_threads_lose_no_line_and_split_none(handler: tuple[QueueHandler, Writes]) -> None:
    queued, stream = handler

    def write(thread: int) -> None:
        for index in range(200):
            queued.handle(record(f"thread {thread} line {index}"))

    threads = [threading.Thread(target=write, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queued.stop()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 8 * 200
    assert all(line.startswith("{") and line.endswith("}") for line in lines)


@pytest.fixture
def configured() -> Iterator[tuple[logging.handlers.MemoryHandler, Writes]]:
    """The service's logging configuration, writing to a `Writes` stream; put back after."""
    saved = {name: logging.getLogger(name).handlers[:] for name in ("service", "uvicorn")}
    stream = Writes()
    config = logging_config(Settings(log_format="json"))
    config["handlers"]["queue"]["stream"] = stream
    logging.config.dictConfig(config)
    batch = logging.getLogger("service").handlers[0]
    assert isinstance(batch, logging.handlers.MemoryHandler)
    yield batch, stream
    assert isinstance(batch.target, QueueHandler)
    batch.target.close()
    for name, handlers in saved.items():
        logging.getLogger(name).handlers = handlers


def test_the_service_and_uvicorn_log_through_one_batch_and_one_queue(
    configured: tuple[logging.handlers.MemoryHandler, Writes],
) -> None:
    batch, _ = configured
    assert batch in logging.getLogger("uvicorn").handlers
    assert isinstance(batch.target, QueueHandler)
    assert isinstance(batch.target.formatter, JsonFormatter)


def test_lines_are_kept_until_a_batch_is_full_a_warning_comes_or_the_timer_writes(
    configured: tuple[logging.handlers.MemoryHandler, Writes],
) -> None:
    _, stream = configured
    access = logging.getLogger("service.access")
    for index in range(BATCH_RECORDS - 1):
        access.info("line %d", index)
    time.sleep(0.2)
    assert stream.getvalue() == "", "written before the batch was full"
    access.info("the last of the batch")
    wait_until(lambda: stream.getvalue().count("\n") == BATCH_RECORDS, SLACK, "a full batch")
    access.info("kept")
    logging.getLogger("service.error").warning("at once")
    wait_until(lambda: "at once" in stream.getvalue(), SLACK, "a warning at once")
    assert stream.getvalue().index("kept") < stream.getvalue().index("at once")
    access.info("waits for the timer")
    time.sleep(0.2)
    assert "waits for the timer" not in stream.getvalue()
    write_batches()  # what the app's timer calls every BATCH_SECONDS
    wait_until(lambda: "waits for the timer" in stream.getvalue(), SLACK, "the timer's batch")


def test_after_the_stop_every_line_is_written_at_once(
    configured: tuple[logging.handlers.MemoryHandler, Writes],
) -> None:
    _, stream = configured
    access = logging.getLogger("service.access")
    access.info("kept before the stop")
    stop_listeners()
    assert "kept before the stop" in stream.getvalue()
    access.info("after the stop")
    assert "after the stop" in stream.getvalue()
    assert stream.threads[-1] is threading.current_thread()


# The live server: a line out within the batch interval, and a SIGTERM stop loses no line.


def access_ids(server: LiveServer) -> list[str]:
    """The request ids of the compute requests' access lines in the server's log."""
    return [line["request_id"] for line in server.access_lines() if line["path"] == MSE]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_live_line_is_written_within_the_batch_interval(tmp_path: Path, workers: int) -> None:
    with (
        live_server(tmp_path, workers=workers) as server,
        server.client() as client,
    ):
        for index in range(2):
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
            wait_until(written, BATCH_SECONDS + SLACK, f"the access line of {request_id}")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_sigterm_stop_writes_every_access_line(tmp_path: Path, workers: int) -> None:
    with live_server(tmp_path, workers=workers) as server:
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
        assert server.terminate() == 0
    assert sorted(access_ids(server)) == sorted(sent)
    # The server's last lines, after the app shut down, are there too: one per worker process.
    messages = [line["message"] for line in server.log_lines()]
    finished = [message for message in messages if message.startswith("Finished server process")]
    assert len(finished) == workers, messages
