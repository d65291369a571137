"""Time the HTTP service against its floors and a naive FastAPI baseline, in one run on 127.0.0.1.

One command starts every server it needs on 127.0.0.1 and free ports, and stops them:
    - the service, `loss-service serve` with one worker, fresh (its memory is read first),
    - the same service with `--workers 2`,
    - bench/naive_app.py under uvicorn with the service's server settings: the naive baseline
      (a `list[float]` pydantic body, numpy, `tolist()` out), a bare endpoint, a byte sink.
and prints the medians over `--repeat` runs and the issue's ratios:

1. MSE with its gradient on 2 x N float64 (N = --n) as JSON lists, in and out: the service's
   round trip over its in-process floor, and the naive baseline's round trip over the service's.
2. The same with base64 typed arrays in and out (`array_encoding: base64`), over its floor.
3. The same as MessagePack (typed arrays carrying raw bytes, in and out), over its floor.
4. Small requests (--small values) at --concurrency connections for --duration seconds, with wrk
   (or the script's own asyncio load generator with --no-wrk or when wrk is missing): requests
   per second as a fraction of the bare endpoint's, and p50 / p99 latency. The load tests run in
   --load-rounds rounds (service, bare, workers 2, no access log, then again): each ratio is the
   median of the rounds' ratios, with their range. Each load test also reads the server's CPU
   time (user + system, all its processes, /proc) per request: bare / service by CPU is the
   requests-per-second ratio each would reach with a core to itself, and moves far less than
   req/s when other tenants share the machine.
5. The peak resident memory (VmHWM) of the fresh one-worker service after request 1, against the
   body size: the whole process, and its growth over the idle process.
6. `--workers 2` over `--workers 1` on request 4.

Floors: what no implementation can skip, timed in this process on the very same bodies, and
interleaved with the HTTP runs so that a noisy machine slows both alike. Each is: decode the body
(orjson, or orjson + base64, or msgpack), make the two float64 arrays (`np.asarray` on the lists,
`np.frombuffer` on the bytes), compute the loss and its gradient with plain numpy
(r = p - y; value = r.r / N; gradient = 2 r / N, in place), encode {"value", "gradient"} the same
way the response travels (orjson with numpy, or base64 text, or msgpack bin). No validation, no
finiteness check, no HTTP: the service does all of those on top.

The service's time is a client's round trip: the request written to a kept-alive socket until the
last byte of the response is read, with a minimal HTTP/1.1 client (no client library overhead).
Requests carry no Accept-Encoding (identity responses); one extra row shows the cost of asking for
gzip. A "transfer only" column posts each body to the sink, which answers as many bytes as the
service's response: the HTTP part of each round trip. A "raw TCP" column moves the same bytes
over a loopback socket to a thread that speaks no HTTP: the least any server's round trip takes on
this machine, which bounds what ratio 3 can reach here.

The load tests also read the load generator's CPU time (wrk, or this process). With `--workers 2`
the two workers and the generator share the machine's cores, so even with perfect scaling ratio 6
cannot exceed cores / ((one worker's + generator's CPU per request) x the one worker's requests
per second); the report prints that ceiling next to the ratio.

Usage: python bench/http.py [--n 1000000] [--repeat 7] [--small 16] [--concurrency 16]
                            [--duration 10] [--load-rounds 3] [--threads 1] [--no-wrk]
                            [--seed 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory comes first on sys.path, and this file would then stand in for
# the standard library's http package for anything imported later.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import base64
import datetime
import gzip
import itertools
import math
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from typing import Any

import httpx
import msgpack
import numpy as np
import numpy.typing as npt
import orjson

from service.client import LossClient
from service.malloc import MALLOC_SETTINGS, tune_malloc

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
HOST = "127.0.0.1"
MSE = "/v1/losses/mean_squared_error"
JSON = "application/json"
MSGPACK = "application/msgpack"
STARTUP_SECONDS = 60
SOCKET_TIMEOUT = 120.0
Array = npt.NDArray[np.float64]


# ---------------------------------------------------------------------------- payloads and floors


@dataclass(frozen=True)
class Payload:
    """One wire format's request: its body, headers, and the floor that goes with it."""

    name: str
    body: bytes
    content_type: str
    accept: str
    floor: Callable[[bytes], tuple[int, dict[str, float]]]
    # How the project's LossClient sends these arrays: its wire and typed-array threshold.
    client_wire: str = "json"
    client_typed_threshold: int = 0


def mse_with_gradient(predictions: Array, targets: Array) -> tuple[float, Array]:
    """The loss and its gradient in the fewest numpy passes: one temporary, scaled in place."""
    residual = predictions - targets
    value = float(np.dot(residual, residual)) / residual.size
    residual *= 2.0 / residual.size
    return value, residual


def _typed(values: Array, *, binary: bool) -> dict[str, Any]:
    data: Any = values.data if binary else base64.b64encode(values.data).decode("ascii")
    return {"dtype": "float64", "shape": list(values.shape), "data": data}


def _timed(phases: list[tuple[str, float]]) -> dict[str, float]:
    return {name: end - start for (_, start), (name, end) in itertools.pairwise(phases)}


def floor_json(body: bytes) -> tuple[int, dict[str, float]]:
    """orjson decode + np.asarray + compute + orjson encode (numpy written natively)."""
    clock = time.perf_counter
    phases = [("start", clock())]
    document = orjson.loads(body)
    phases.append(("decode", clock()))
    predictions = np.asarray(document["predictions"], dtype=np.float64)
    targets = np.asarray(document["targets"], dtype=np.float64)
    del document
    phases.append(("convert", clock()))
    value, gradient = mse_with_gradient(predictions, targets)
    phases.append(("compute", clock()))
    out = orjson.dumps({"value": value, "gradient": gradient}, option=orjson.OPT_SERIALIZE_NUMPY)
    phases.append(("encode", clock()))
    return len(out), _timed(phases)


def floor_base64(body: bytes) -> tuple[int, dict[str, float]]:
    """orjson decode + base64 decode + np.frombuffer + compute + base64 and orjson encode."""
    clock = time.perf_counter
    phases = [("start", clock())]
    document = orjson.loads(body)
    phases.append(("decode", clock()))
    predictions = np.frombuffer(base64.b64decode(document["predictions"]["data"]), "<f8")
    targets = np.frombuffer(base64.b64decode(document["targets"]["data"]), "<f8")
    del document
    phases.append(("convert", clock()))
    value, gradient = mse_with_gradient(predictions, targets)
    phases.append(("compute", clock()))
    out = orjson.dumps({"value": value, "gradient": _typed(gradient, binary=False)})
    phases.append(("encode", clock()))
    return len(out), _timed(phases)


def floor_msgpack(body: bytes) -> tuple[int, dict[str, float]]:
    """msgpack decode + np.frombuffer + compute + msgpack encode (raw bytes as bin)."""
    clock = time.perf_counter
    phases = [("start", clock())]
    document = msgpack.unpackb(body)
    phases.append(("decode", clock()))
    predictions = np.frombuffer(document["predictions"]["data"], "<f8")
    targets = np.frombuffer(document["targets"]["data"], "<f8")
    del document
    phases.append(("convert", clock()))
    value, gradient = mse_with_gradient(predictions, targets)
    phases.append(("compute", clock()))
    out = msgpack.packb({"value": value, "gradient": _typed(gradient, binary=True)})
    phases.append(("encode", clock()))
    return len(out), _timed(phases)


def payloads(predictions: Array, targets: Array) -> list[Payload]:
    lists = {"predictions": predictions, "targets": targets}
    typed_text = {
        "predictions": _typed(predictions, binary=False),
        "targets": _typed(targets, binary=False),
        "array_encoding": "base64",
    }
    typed_bytes = {
        "predictions": _typed(predictions, binary=True),
        "targets": _typed(targets, binary=True),
        "array_encoding": "base64",
    }
    return [
        Payload(
            "JSON lists",
            orjson.dumps(lists, option=orjson.OPT_SERIALIZE_NUMPY),
            JSON,
            JSON,
            floor_json,
            client_typed_threshold=2**62,  # never typed: JSON lists
        ),
        Payload("base64 typed arrays", orjson.dumps(typed_text), JSON, JSON, floor_base64),
        Payload(
            "MessagePack",
            msgpack.packb(typed_bytes),
            MSGPACK,
            MSGPACK,
            floor_msgpack,
            client_wire="msgpack",
        ),
    ]


# ------------------------------------------------------------------- a minimal HTTP/1.1 client


class HttpError(RuntimeError):
    """A response that is not what the benchmark expects."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: memoryview  # valid until the connection's next request


class Connection:
    """One kept-alive HTTP/1.1 connection: writes prepared requests, reads whole responses.

    Response bodies are read into one buffer that the connection keeps and reuses: a fresh
    buffer per response would cost the client a page fault per 4 KiB on every request (several
    milliseconds for a 22 MB response on this machine), time that is not the service's.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()

    def close(self) -> None:
        self.sock.close()

    def request(self, path: str, body: bytes, headers: dict[str, str]) -> Response:
        head = f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.sock.sendall(head.encode("latin-1"))
        self.sock.sendall(body)
        return self._response()

    def _response(self) -> Response:
        received = bytearray()
        while b"\r\n\r\n" not in received:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise HttpError("the server closed the connection")
            received += chunk
        head, _, rest = bytes(received).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise HttpError(f"no Content-Length in the response: {lines}")
        length = int(headers["content-length"])
        if len(self.buffer) < length:
            self.buffer = bytearray(length)
        view = memoryview(self.buffer)[:length]
        count = min(len(rest), length)
        view[:count] = rest[:count]
        if not read_exactly(self.sock, view[count:]):
            raise HttpError("the server closed the connection mid-response")
        return Response(status, headers, view)


def read_exactly(sock: socket.socket, into: bytearray | memoryview) -> bool:
    """Fill `into` from `sock`; False when the peer closed first."""
    view = memoryview(into)
    count = 0
    while count < len(view):
        got = sock.recv_into(view[count:])
        if not got:
            return False
        count += got
    return True


def round_trip(
    connection: Connection, path: str, body: bytes, headers: dict[str, str]
) -> tuple[float, Response]:
    started = time.perf_counter()
    response = connection.request(path, body, headers)
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise HttpError(f"{path} answered {response.status}: {bytes(response.body[:300])!r}")
    return elapsed, response


def check_answer(response: Response, value: float, gradient: Array) -> None:
    """The response holds the loss and gradient numpy computes (any of the three formats)."""
    if response.headers.get("content-encoding") == "gzip":
        raw: Any = gzip.decompress(response.body)
    else:
        raw = response.body
    media = response.headers.get("content-type", "")
    document = msgpack.unpackb(raw) if media.startswith(MSGPACK) else orjson.loads(raw)
    answer = document["gradient"]
    if isinstance(answer, dict):
        data = answer["data"]
        answer = np.frombuffer(data if isinstance(data, bytes) else base64.b64decode(data), "<f8")
    if not math.isclose(document["value"], value, rel_tol=1e-9):
        raise HttpError(f"value {document['value']} differs from numpy's {value}")
    if not np.allclose(np.asarray(answer, dtype=np.float64), gradient, rtol=1e-9, atol=0.0):
        raise HttpError("the gradient differs from numpy's")


class RawEcho:
    """The wire's own floor: a thread of this process on a loopback socket that reads a request of
    N bytes and answers M zero bytes, with no HTTP at all. Any HTTP server's round trip for the
    same body and response takes at least this long on this machine (the bytes cross the kernel
    both ways); the thread's socket calls release the GIL, as the client's do."""

    _HEAD = struct.Struct("<QQ")  # request bytes, response bytes

    def __init__(self) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, name="raw-echo", daemon=True)
        self.thread.start()
        self.sock = socket.create_connection((HOST, self.port), timeout=SOCKET_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        received = bytearray()
        with connection:
            head = bytearray(self._HEAD.size)
            while read_exactly(connection, head):
                size, answer = self._HEAD.unpack(head)
                if len(received) < size:
                    received = bytearray(size)
                if not read_exactly(connection, memoryview(received)[:size]):
                    return
                connection.sendall(bytes(answer))

    def round_trip(self, body: bytes, response_size: int) -> float:
        """Seconds from the first byte of `body` written to the last of the answer read."""
        if len(self.buffer) < response_size:
            self.buffer = bytearray(response_size)
        started = time.perf_counter()
        self.sock.sendall(self._HEAD.pack(len(body), response_size))
        self.sock.sendall(body)
        if not read_exactly(self.sock, memoryview(self.buffer)[:response_size]):
            raise HttpError("the raw echo closed the connection")
        return time.perf_counter() - started

    def close(self) -> None:
        self.sock.close()
        self.listener.close()
        self.thread.join(timeout=5)


# --------------------------------------------------------------------------------- the servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A server process on 127.0.0.1: started, waited for, stopped, its memory read."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*self.command, "--host", HOST, "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}):\n{self.tail()}"
                )
            try:
                with socket.create_connection((HOST, self.port), timeout=1.0) as probe:
                    probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if probe.recv(64).startswith(b"HTTP/1.1 "):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start in time:\n{self.tail()}")
            time.sleep(0.05)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def status_kib(self, key: str) -> int:
        """A field of /proc/PID/status in KiB (VmRSS, VmHWM) of the server process."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {key} in /proc/{self.process.pid}/status")

    def reset_peak(self) -> bool:
        """Set VmHWM back to the current RSS (Linux clear_refs 5); False where not allowed."""
        assert self.process is not None
        try:
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # The server's whole process group: uvicorn's worker processes too.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def server_env(body_bytes: int) -> dict[str, str]:
    env = {**os.environ, "LOSS_SERVICE_API_KEYS": ""}
    # The default limit (128 MiB) holds --n 1e6 easily; larger runs raise it rather than fail.
    env["LOSS_SERVICE_MAX_BODY_BYTES"] = str(max(128 * 2**20, 2 * body_bytes))
    for name in ("LOSS_SERVICE_HOST", "LOSS_SERVICE_PORT", "LOSS_SERVICE_WORKERS"):
        env.pop(name, None)
    return env


def service_command(workers: int) -> list[str]:
    script = Path(sys.executable).with_name("loss-service")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
    return [*launcher, "serve", "--workers", str(workers)]


def baseline_command() -> list[str]:
    # The flags `loss-service serve` gives uvicorn (service/cli.py), minus the service's logging.
    return [
        sys.executable,
        "-m",
        "uvicorn",
        # A module path from the project root: with bench/ itself on sys.path, this file would
        # shadow the standard library's http package.
        "bench.naive_app:app",
        "--workers",
        "1",
        "--no-access-log",
        "--no-proxy-headers",
        "--no-server-header",
        "--log-level",
        "warning",
    ]


@contextmanager
def running(servers: list[Server]) -> Iterator[None]:
    """Start every server at once (their start-up overlaps), wait for all, stop all at the end."""
    try:
        for server in servers:
            server.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        for server in servers:
            server.wait_ready(deadline)
        yield
    finally:
        for server in servers:
            server.stop()


# ------------------------------------------------------------------------------ load generators


@dataclass(frozen=True)
class Load:
    """One load test: completed requests per second, latency percentiles, failures, the server's
    CPU time per request (all its processes, user + system; None where /proc is not) and the load
    generator's (wrk as a child process, or this process for the Python generator)."""

    tool: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    cpu_us_per_request: float | None = None
    generator_cpu_us_per_request: float | None = None
    connections: tuple[int, ...] | None = None  # per server process, mid-test, largest first


def session_processes(session: int) -> dict[int, list[str]] | None:
    """The live processes of a session (a server started with start_new_session, and its
    workers): pid -> the fields of /proc/PID/stat after "(command)"; None without /proc."""
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return None
    found = {}
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        # After "(command)": state ppid pgrp session ... utime (14th field) stime (15th).
        fields = stat.rpartition(")")[2].split()
        if int(fields[3]) == session:
            found[int(entry.name)] = fields
    return found


def session_cpu_seconds(session: int) -> float | None:
    """User + system CPU seconds of the live processes of a session, from /proc."""
    processes = session_processes(session)
    if processes is None:
        return None
    ticks = sum(int(fields[11]) + int(fields[12]) for fields in processes.values())
    return ticks / os.sysconf("SC_CLK_TCK")


def connections_per_process(session: int, port: int) -> list[int] | None:
    """How many established connections to `port` each process of a session holds, largest
    first (`--workers 2`: the kernel hands each new connection to one worker for its life);
    None without /proc."""
    processes = session_processes(session)
    if processes is None:
        return None
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and fields[1].rsplit(":", 1)[1] == f"{port:04X}":
                    established.add(f"socket:[{fields[9]}]")
    counts = []
    for pid in processes:
        held = 0
        with suppress(OSError):
            for descriptor in os.scandir(f"/proc/{pid}/fd"):
                with suppress(OSError):
                    held += os.readlink(descriptor.path) in established
        counts.append(held)
    return sorted((count for count in counts if count), reverse=True)


def cpu_seconds(who: int) -> float:
    """User + system CPU seconds of RUSAGE_SELF, or of RUSAGE_CHILDREN (the waited-for ones)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def available_cores() -> int:
    """The CPUs this process may run on (its affinity), which its servers and wrk share."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.1f %.1f\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50),
    latency:percentile(99)))
end
"""


def wrk_load(
    port: int, path: str, body: bytes, *, concurrency: int, duration: float, threads: int
) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(body=body.decode()))
    try:
        command = [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            script.name,
            f"http://{HOST}:{port}{path}",
        ]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, check=True
        )
    finally:
        os.unlink(script.name)
    line = next(ln for ln in completed.stdout.splitlines() if ln.startswith("RESULT "))
    requests, micros, status_errors, socket_errors, p50, p99 = line.split()[1:]
    return Load(
        "wrk",
        int(requests) / (int(micros) / 1e6),
        float(p50) / 1000,
        float(p99) / 1000,
        int(requests),
        int(status_errors) + int(socket_errors),
    )


async def _python_load_async(
    port: int, path: str, body: bytes, concurrency: int, duration: float
) -> Load:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: {JSON}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if not head.startswith(b"HTTP/1.1 200"):
                    failures += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    if not latencies:
        raise HttpError("no request completed")

    def percentile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return Load(
        "python",
        len(latencies) / elapsed,
        percentile(0.5),
        percentile(0.99),
        len(latencies),
        failures,
    )


def python_load(port: int, path: str, body: bytes, *, concurrency: int, duration: float) -> Load:
    """The fallback load generator: asyncio keep-alive connections, one request in flight each."""
    return asyncio.run(_python_load_async(port, path, body, concurrency, duration))


# ---------------------------------------------------------------------------------- the report


@dataclass
class Results:
    """Everything measured, in seconds, bytes and KiB."""

    service: dict[str, list[float]] = field(default_factory=dict)
    floors: dict[str, list[float]] = field(default_factory=dict)
    phases: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    transfer: dict[str, list[float]] = field(default_factory=dict)
    raw: dict[str, list[float]] = field(default_factory=dict)  # RawEcho round trips
    naive: list[float] = field(default_factory=list)
    gzip: list[float] = field(default_factory=list)
    # Real clients: httpx with its default headers, httpx asking for identity, LossClient.
    httpx_defaults: dict[str, list[float]] = field(default_factory=dict)
    httpx_identity: dict[str, list[float]] = field(default_factory=dict)
    httpx_encoding: dict[str, str] = field(default_factory=dict)
    loss_client: dict[str, list[float]] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # body, response
    gzip_size: int = 0
    idle_kib: int = 0
    peak_kib: int = 0
    warm_growth_kib: dict[str, int] = field(default_factory=dict)
    loads: dict[str, list[Load]] = field(default_factory=dict)  # one per round
    load_before: str = ""

    def load(self, name: str) -> Load:
        """The median round of a load test (by requests per second)."""
        rounds = sorted(self.loads[name], key=lambda load: load.requests_per_second)
        return rounds[(len(rounds) - 1) // 2]

    def load_ratios(self, numerator: str, denominator: str) -> list[float]:
        """A requests-per-second ratio in each round, its two load tests run back to back."""
        return [
            top.requests_per_second / bottom.requests_per_second
            for top, bottom in zip(self.loads[numerator], self.loads[denominator], strict=True)
        ]

    def cpu_per_request(self, name: str) -> float | None:
        """The median over the rounds of the server's CPU microseconds per request."""
        samples = [load.cpu_us_per_request for load in self.loads[name]]
        known = [sample for sample in samples if sample is not None]
        return statistics.median(known) if known and len(known) == len(samples) else None

    def workers_ceilings(self, cores: int) -> list[float] | None:
        """Per round, the most `--workers 2` could do over `--workers 1` on this machine if the two
        workers scaled perfectly: each request costing them the one worker's CPU time, and every
        core busy with them and the load generator (at its CPU time per request with 2 workers):
        cores / ((1-worker CPU + generator CPU per request) x 1-worker req/s). Other tenants and
        the kernel's own threads only lower it. None without /proc."""
        ceilings = []
        for two, one in zip(self.loads["workers 2"], self.loads["service"], strict=True):
            if one.cpu_us_per_request is None or two.generator_cpu_us_per_request is None:
                return None
            seconds = (one.cpu_us_per_request + two.generator_cpu_us_per_request) / 1e6
            ceilings.append(cores / (seconds * one.requests_per_second))
        return ceilings


def ratio_text(ratios: list[float]) -> str:
    """The median ratio, and its range when there were several rounds."""
    text = f"{statistics.median(ratios):.2f}"
    if len(ratios) > 1:
        text += f" ({min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} rounds)"
    return text


def cpu_text(results: Results, service: str, bare: str) -> str:
    """The two CPU times per request and bare / service: what the requests-per-second ratio would
    be if each server had a core of its own (a saturated single worker runs at 1 / its CPU time)."""
    top, bottom = results.cpu_per_request(service), results.cpu_per_request(bare)
    if top is None or bottom is None:
        return "unknown (no /proc)"
    return f"{top:.0f} us; {bottom:.0f} us; bare / service {bottom / top:.2f}"


def ceiling_text(results: Results, cores: int) -> str:
    ceilings = results.workers_ceilings(cores)
    two, one = results.load("workers 2"), results.load("service")
    if ceilings is None or one.cpu_us_per_request is None:
        return "unknown (no /proc)"
    generator = two.generator_cpu_us_per_request or 0.0
    return (
        f"{cores} / (({one.cpu_us_per_request:.0f} + {generator:.0f} us) x "
        f"{one.requests_per_second:.0f}/s) = {ratio_text(ceilings)}; the 2 workers' own CPU per "
        f"request: {two.cpu_us_per_request or 0:.0f} us"
    )


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = ", ".join(
        f"{name} {version(name)}"
        for name in (
            "numpy",
            "orjson",
            "pysimdjson",
            "pybase64",
            "msgpack",
            "fastapi",
            "starlette",
            "uvicorn",
            "pydantic",
        )
    )
    return (
        f"{model}, cpu count {os.cpu_count()}, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {packages}"
    )


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def report(args: argparse.Namespace, results: Results, formats: list[Payload]) -> str:
    lines = [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {machine()}",
        "malloc: a service worker's (service/malloc.py), here and in every server started: "
        + " ".join(f"{name}={os.environ.get(name, 'unset')}" for name, _, _ in MALLOC_SETTINGS),
        f"load average (1, 5, 15 min) at the start: {results.load_before}, at the end: "
        f"{load_average()}",
        f"run: n={args.n} (2 x n float64), repeat={args.repeat} (medians), small={args.small} "
        f"values at concurrency {args.concurrency} for {args.duration:g} s "
        f"({results.load('service').tool}), {args.load_rounds} rounds, wrk threads {args.threads}",
        "",
        "| format | body | response | service | floor | service / floor | transfer only "
        "| raw TCP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for payload in formats:
        body, response = results.sizes[payload.name]
        service = median_ms(results.service[payload.name])
        floor = median_ms(results.floors[payload.name])
        lines.append(
            f"| {payload.name} | {body / 1e6:.1f} MB | {response / 1e6:.1f} MB | {service:.1f} ms "
            f"| {floor:.1f} ms | {service / floor:.2f} "
            f"| {median_ms(results.transfer[payload.name]):.1f} ms "
            f"| {median_ms(results.raw[payload.name]):.1f} ms |"
        )
    lines += [
        "",
        "| floor phases (median ms) | decode | convert | compute | encode |",
        "|---|---|---|---|---|",
    ]
    for payload in formats:
        phases = results.phases[payload.name]
        cells = " | ".join(
            f"{median_ms(phases[name]):.1f}" for name in ("decode", "convert", "compute", "encode")
        )
        lines.append(f"| {payload.name} | {cells} |")

    lines += [
        "",
        "| real clients (median ms) | minimal client, identity | httpx defaults | httpx identity "
        "| LossClient | floor + raw TCP | LossClient / (floor + raw TCP) |",
        "|---|---|---|---|---|---|---|",
    ]
    for payload in formats:
        least = median_ms(results.floors[payload.name]) + median_ms(results.raw[payload.name])
        client_ms = median_ms(results.loss_client[payload.name])
        lines.append(
            f"| {payload.name} | {median_ms(results.service[payload.name]):.1f} "
            f"| {median_ms(results.httpx_defaults[payload.name]):.1f} "
            f"({results.httpx_encoding[payload.name]}) "
            f"| {median_ms(results.httpx_identity[payload.name]):.1f} | {client_ms:.1f} "
            f"| {least:.1f} | {client_ms / least:.2f} |"
        )

    json_name = formats[0].name
    service_json = median_ms(results.service[json_name])
    floor_json_ms = median_ms(results.floors[json_name])
    naive = median_ms(results.naive)
    base64_ratio = median_ms(results.service[formats[1].name]) / median_ms(
        results.floors[formats[1].name]
    )
    msgpack_ms = median_ms(results.service[formats[2].name])
    msgpack_floor = median_ms(results.floors[formats[2].name])
    msgpack_raw = median_ms(results.raw[formats[2].name])
    msgpack_ratio = msgpack_ms / msgpack_floor
    client_ratio = median_ms(results.loss_client[formats[2].name]) / (msgpack_floor + msgpack_raw)

    def defaults_ratio(name: str) -> float:
        return median_ms(results.httpx_defaults[name]) / median_ms(results.httpx_identity[name])

    one, bare, two, quiet = (
        results.load(name) for name in ("service", "bare", "workers 2", "no access log")
    )
    small_ratios = results.load_ratios("service", "bare")
    workers_ratios = results.load_ratios("workers 2", "service")
    body_bytes = results.sizes[json_name][0]
    peak = results.peak_kib * 1024
    growth = (results.peak_kib - results.idle_kib) * 1024
    rows = [
        (
            "1. JSON lists: service / floor",
            f"{service_json:.0f} ms / {floor_json_ms:.0f} ms = {service_json / floor_json_ms:.2f}",
            "<= 1.3",
            verdict(service_json / floor_json_ms <= 1.3),
        ),
        (
            "1. JSON lists: naive baseline / service",
            f"{naive:.0f} ms / {service_json:.0f} ms = {naive / service_json:.2f}",
            ">= 4",
            verdict(naive / service_json >= 4),
        ),
        (
            "2. base64 typed arrays: service / floor",
            f"{base64_ratio:.2f}",
            "<= 1.5",
            verdict(base64_ratio <= 1.5),
        ),
        (
            "3. MessagePack: service / floor",
            f"{msgpack_ratio:.2f}",
            "<= 1.5",
            verdict(msgpack_ratio <= 1.5),
        ),
        (
            "3. MessagePack: LossClient round trip / (floor + raw TCP round trip)",
            f"{median_ms(results.loss_client[formats[2].name]):.1f} ms / "
            f"({msgpack_floor:.1f} + {msgpack_raw:.1f} ms) = {client_ratio:.2f}",
            "<= 1.5",
            verdict(client_ratio <= 1.5),
        ),
        (
            "1-3. httpx with its default headers / httpx with Accept-Encoding: identity",
            ", ".join(f"{payload.name} {defaults_ratio(payload.name):.2f}" for payload in formats),
            "<= 1.05",
            verdict(all(defaults_ratio(payload.name) <= 1.05 for payload in formats)),
        ),
        (
            "3. the least any HTTP server could reach here: (floor + raw TCP round trip) / floor",
            f"({msgpack_floor:.1f} + {msgpack_raw:.1f} ms) / {msgpack_floor:.1f} ms = "
            f"{(msgpack_floor + msgpack_raw) / msgpack_floor:.2f}",
            "",
            "",
        ),
        (
            f"4. {args.small} values at c={args.concurrency}: service / bare FastAPI",
            f"{one.requests_per_second:.0f} / {bare.requests_per_second:.0f} req/s; "
            f"ratio {ratio_text(small_ratios)}",
            ">= 0.7",
            verdict(statistics.median(small_ratios) >= 0.7),
        ),
        (
            "4. server CPU per request (user + system, median of the rounds): service; bare",
            cpu_text(results, "service", "bare"),
            "",
            "",
        ),
        (
            "4. latency p50 / p99: service; bare",
            f"{one.p50_ms:.2f} / {one.p99_ms:.2f} ms; {bare.p50_ms:.2f} / {bare.p99_ms:.2f} ms",
            "",
            "",
        ),
        (
            "5. peak RSS (VmHWM) / JSON body",
            f"{peak / 1e6:.0f} MB / {body_bytes / 1e6:.1f} MB = {peak / body_bytes:.2f}",
            "<= 3",
            verdict(peak / body_bytes <= 3),
        ),
        (
            "5. peak RSS growth over the idle process / JSON body",
            f"({results.peak_kib / 1024:.0f} - {results.idle_kib / 1024:.0f} MiB) / body = "
            f"{growth / body_bytes:.2f}",
            "<= 3",
            verdict(growth / body_bytes <= 3),
        ),
        (
            "6. --workers 2 / --workers 1 (request 4)",
            f"{two.requests_per_second:.0f} / {one.requests_per_second:.0f} req/s; "
            f"ratio {ratio_text(workers_ratios)}",
            ">= 1.7",
            verdict(statistics.median(workers_ratios) >= 1.7),
        ),
        (
            "6. the most this machine allows: cores / ((1-worker + load generator CPU per "
            "request) x 1-worker req/s)",
            ceiling_text(results, available_cores()),
            "",
            "",
        ),
        (
            "6. connections per worker in each round, mid-test (the kernel gives each of the "
            "load generator's connections to one worker for its life)",
            ", ".join(
                "/".join(map(str, load.connections)) if load.connections else "unknown"
                for load in results.loads["workers 2"]
            ),
            "",
            "",
        ),
        (
            "extra: JSON lists with Accept-Encoding: gzip",
            f"{median_ms(results.gzip):.0f} ms, response {results.gzip_size / 1e6:.1f} MB",
            "",
            "",
        ),
        (
            "extra: request 4 with LOSS_SERVICE_LOG_LEVEL=warning (no access log) / bare",
            f"{quiet.requests_per_second:.0f} / {bare.requests_per_second:.0f} req/s; "
            f"ratio {ratio_text(results.load_ratios('no access log', 'bare'))}",
            "",
            "",
        ),
        (
            "extra: workers 2 latency p50 / p99",
            f"{two.p50_ms:.2f} / {two.p99_ms:.2f} ms",
            "",
            "",
        ),
    ]
    if results.warm_growth_kib:
        lines += [
            "",
            "| peak RSS growth of the warm service during one request | body | growth | / body |",
            "|---|---|---|---|",
        ]
        for payload in formats:
            growth_kib = results.warm_growth_kib.get(payload.name)
            if growth_kib is None:
                continue
            body_size = results.sizes[payload.name][0]
            lines.append(
                f"| {payload.name} | {body_size / 1e6:.1f} MB | {growth_kib * 1024 / 1e6:.0f} MB "
                f"| {growth_kib * 1024 / body_size:.2f} |"
            )
    lines += ["", "| measure | result | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    failures = sum(load.failures for rounds in results.loads.values() for load in rounds)
    lines.append("")
    lines.append(f"load test failures (non-2xx or socket errors): {failures}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------- the run


def measure(args: argparse.Namespace) -> tuple[Results, list[Payload]]:
    rng = np.random.default_rng(args.seed)
    predictions = rng.standard_normal(args.n)
    targets = rng.standard_normal(args.n)
    expected_value, expected_gradient = mse_with_gradient(predictions, targets)
    formats = payloads(predictions, targets)
    small_rng = np.random.default_rng(args.seed + 1)
    small = orjson.dumps(
        {"predictions": small_rng.random(args.small), "targets": small_rng.random(args.small)},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )
    results = Results(load_before=load_average())
    use_wrk = not args.no_wrk and shutil.which("wrk") is not None

    def load(server: Server, path: str) -> Load:
        assert server.process is not None
        # wrk is a child that subprocess.run waits for: its CPU time lands in RUSAGE_CHILDREN.
        generator = resource.RUSAGE_CHILDREN if use_wrk else resource.RUSAGE_SELF
        generator_before = cpu_seconds(generator)
        session = server.process.pid
        cpu_before = session_cpu_seconds(session)
        split: list[list[int] | None] = []
        sampler = threading.Timer(
            args.duration / 2,
            lambda: split.append(connections_per_process(session, server.port)),
        )
        sampler.start()
        if use_wrk:
            result = wrk_load(
                server.port,
                path,
                small,
                concurrency=args.concurrency,
                duration=args.duration,
                threads=args.threads,
            )
        else:
            result = python_load(
                server.port, path, small, concurrency=args.concurrency, duration=args.duration
            )
        cpu_after = session_cpu_seconds(session)
        sampler.join()
        if split and split[0] is not None:
            result = replace(result, connections=tuple(split[0]))
        if not result.requests:
            return result
        generator_us = (cpu_seconds(generator) - generator_before) / result.requests * 1e6
        result = replace(result, generator_cpu_us_per_request=generator_us)
        if cpu_before is None or cpu_after is None:
            return result
        cpu_us = (cpu_after - cpu_before) / result.requests * 1e6
        return replace(result, cpu_us_per_request=cpu_us)

    env = server_env(max(len(payload.body) for payload in formats))
    with tempfile.TemporaryDirectory(prefix="bench-http-") as logs, ExitStack() as stack:
        service = Server("service", service_command(1), env, Path(logs, "service.log"))
        baseline = Server("baseline", baseline_command(), env, Path(logs, "baseline.log"))
        workers = Server("service --workers 2", service_command(2), env, Path(logs, "workers.log"))
        quiet_env = {**env, "LOSS_SERVICE_LOG_LEVEL": "warning"}
        quiet = Server("service, no access log", service_command(1), quiet_env, Path(logs, "q.log"))
        stack.enter_context(running([service, baseline, workers, quiet]))

        # 5. Memory: the fresh process, idle, then after request 1 (its first JSON request).
        results.idle_kib = service.status_kib("VmRSS")
        to_service = Connection(service.port)
        to_baseline = Connection(baseline.port)
        echo = RawEcho()
        stack.callback(to_service.close)
        stack.callback(to_baseline.close)
        stack.callback(echo.close)
        # Real clients, kept alive as a user keeps them: httpx with its default headers (it asks
        # for gzip, as requests, curl --compressed and browsers do) and the project's LossClient.
        real = stack.enter_context(httpx.Client(base_url=service.base, timeout=300))
        loss_clients = {
            payload.name: stack.enter_context(
                LossClient(
                    service.base,
                    timeout=300,
                    wire=payload.client_wire,  # type: ignore[arg-type]
                    typed_threshold=payload.client_typed_threshold,
                )
            )
            for payload in formats
        }
        json_payload = formats[0]
        headers = {"Content-Type": JSON, "Accept": JSON}
        _, response = round_trip(to_service, MSE, json_payload.body, headers)
        results.peak_kib = service.status_kib("VmHWM")
        check_answer(response, expected_value, expected_gradient)

        # 1-3. One warm-up round (checked, untimed), then alternate floor and service per run.
        for payload in formats:
            headers = {"Content-Type": payload.content_type, "Accept": payload.accept}
            _, response = round_trip(to_service, MSE, payload.body, headers)
            check_answer(response, expected_value, expected_gradient)
            results.sizes[payload.name] = (len(payload.body), len(response.body))
            payload.floor(payload.body)
            echo.round_trip(payload.body, len(response.body))
        _, response = round_trip(to_baseline, MSE, json_payload.body, {"Content-Type": JSON})
        check_answer(response, expected_value, expected_gradient)
        # 5, per format: the peak growth of the now warm process over its RSS before a request.
        for payload in formats:
            if not service.reset_peak():
                break
            before = service.status_kib("VmRSS")
            headers = {"Content-Type": payload.content_type, "Accept": payload.accept}
            round_trip(to_service, MSE, payload.body, headers)
            results.warm_growth_kib[payload.name] = service.status_kib("VmHWM") - before
        gzip_headers = {"Content-Type": JSON, "Accept": JSON, "Accept-Encoding": "gzip"}
        _, response = round_trip(to_service, MSE, json_payload.body, gzip_headers)
        check_answer(response, expected_value, expected_gradient)
        results.gzip_size = len(response.body)

        for run in range(args.repeat):
            for payload in formats:
                headers = {"Content-Type": payload.content_type, "Accept": payload.accept}
                started = time.perf_counter()
                _, phases = payload.floor(payload.body)
                results.floors.setdefault(payload.name, []).append(time.perf_counter() - started)
                for name, seconds in phases.items():
                    results.phases.setdefault(payload.name, {}).setdefault(name, []).append(seconds)
                elapsed, _ = round_trip(to_service, MSE, payload.body, headers)
                results.service.setdefault(payload.name, []).append(elapsed)
                response_size = results.sizes[payload.name][1]
                elapsed, _ = round_trip(
                    to_baseline, f"/sink?size={response_size}", payload.body, headers
                )
                results.transfer.setdefault(payload.name, []).append(elapsed)
                raw_seconds = echo.round_trip(payload.body, response_size)
                results.raw.setdefault(payload.name, []).append(raw_seconds)
                pair = [
                    ("defaults", {}, results.httpx_defaults),
                    ("identity", {"Accept-Encoding": "identity"}, results.httpx_identity),
                ]
                # In turn first: the request after another pays for what that one left (the
                # heap, the socket buffers), which would otherwise always count against one.
                for label, extra, into in pair if run % 2 == 0 else pair[::-1]:
                    started = time.perf_counter()
                    answer = real.post(MSE, content=payload.body, headers={**headers, **extra})
                    answer.read()
                    into.setdefault(payload.name, []).append(time.perf_counter() - started)
                    if label == "defaults":
                        encoding = answer.headers.get("content-encoding", "identity")
                        results.httpx_encoding[payload.name] = encoding
                started = time.perf_counter()
                result = loss_clients[payload.name].evaluate("mse", predictions, targets)
                results.loss_client.setdefault(payload.name, []).append(
                    time.perf_counter() - started
                )
                assert result.value is not None
                assert math.isclose(result.value, expected_value, rel_tol=1e-12)
            elapsed, _ = round_trip(to_baseline, MSE, json_payload.body, {"Content-Type": JSON})
            results.naive.append(elapsed)
            elapsed, _ = round_trip(to_service, MSE, json_payload.body, gzip_headers)
            results.gzip.append(elapsed)

        # 4 and 6. Small requests under load: service, bare endpoint, service with 2 workers,
        # in rounds, so that a ratio compares load tests run back to back.
        targets = (
            ("service", service, MSE),
            ("bare", baseline, "/bare"),
            ("workers 2", workers, MSE),
            ("no access log", quiet, MSE),
        )
        for _, server, path in targets:
            # Check that the request is answered before loading the server with it.
            probe = Connection(server.port)
            try:
                round_trip(probe, path, small, {"Content-Type": JSON})
            finally:
                probe.close()
        for _ in range(args.load_rounds):
            for name, server, path in targets:
                results.loads.setdefault(name, []).append(load(server, path))
    return results, formats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="values per array (1e6)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per measure (7)")
    parser.add_argument("--small", type=int, default=16, help="values per small request (16)")
    parser.add_argument("--concurrency", type=int, default=16, help="load connections (16)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load test")
    parser.add_argument(
        "--load-rounds", type=int, default=3, help="rounds of the load tests (3), medians"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python load generator")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.n, args.repeat, args.small, args.concurrency, args.load_rounds) < 1:
        parser.error("--n, --repeat, --small, --concurrency and --load-rounds must be >= 1")
    # The floors run in this process and the baselines in servers it starts: all under the
    # malloc settings of a service worker (service/malloc.py), which the servers inherit.
    tune_malloc()
    results, formats = measure(args)
    print(report(args, results, formats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
