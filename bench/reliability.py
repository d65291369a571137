"""Load and soak runs against a live `loss-service serve`: errors, throughput, latency, memory.

    python bench/reliability.py load  [--duration 60] [--concurrency 64]
    python bench/reliability.py soak  [--duration 600] [--concurrency 8] [--rss-baseline-at 60]

By default the script starts `loss-service serve` on 127.0.0.1 and a free port (`--workers`,
`--env NAME=VALUE` for LOSS_SERVICE_* settings), drives it, stops it with SIGTERM and reports its
exit code; `--url` drives a server that is already running instead (no memory figures then).

Traffic: `--concurrency` asyncio tasks on one httpx client, each sending its next request as soon
as the previous one is answered (closed loop). Every `--large-every`-th request is large
(`--large-size` elements per array, nested JSON lists, gradient on: ~2 MB in, ~2 MB out), the others
small (`--small-size` elements) and rotate over a few losses. Bodies are encoded once, before the
run, so that the client spends its time on HTTP. An error is any transport failure, a timeout or a
status other than 200. Latency is from sending the request to reading the last byte of the answer.

`--hostile-every SECONDS` mixes in a hostile client beside the well-behaved ones: every that
many seconds it starts one request drawn in turn from `HOSTILE`, the cases of
tests/robustness/test_bounded_work.py (a 3,000-character group key, 1,000 losses, a million
keys, 65 dimensions, a list 1,000 deep, a 20 MB header, slow headers, a slow body, a client that
leaves mid-computation, ...). Each must be answered with a 4xx, or be cut off by the server; its
outcomes are counted apart (`hostile`), and a 5xx or a hang among them counts as an error.

Memory: the resident set (VmRSS) of the server process and its workers, summed, read from /proc
every `--sample-every` seconds; `soak` reports it at `--rss-baseline-at` seconds and at the end,
and the growth between the two.

The last line is the result as JSON; the exit status is 1 if any request failed, the server did
not exit 0, or (soak) memory grew by more than `--max-rss-growth` percent.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this directory comes first on sys.path, and bench/http.py beside this file
# would stand in for the standard library's http package, which httpx imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgpack
import numpy as np
import orjson

STARTUP_SECONDS = 30
STOP_SECONDS = 60


@dataclass(frozen=True)
class Body:
    """One prepared request: kind (small, large), path and encoded JSON body."""

    kind: str
    path: str
    content: bytes


def bodies(small_size: int, large_size: int, seed: int = 0) -> dict[str, list[Body]]:
    """A few small requests over different losses, and one large regression request."""
    rng = np.random.default_rng(seed)

    def dump(document: dict[str, Any]) -> bytes:
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)

    predictions = rng.normal(size=small_size)
    targets = predictions + rng.normal(scale=0.5, size=small_size)
    probabilities = rng.uniform(0.05, 0.95, size=small_size)
    labels = (rng.uniform(size=small_size) < probabilities).astype(float)
    small = [
        Body("small", "/v1/losses/mse", dump({"predictions": predictions, "targets": targets})),
        Body(
            "small",
            "/v1/losses/huber",
            dump({"predictions": predictions, "targets": targets, "delta": 0.5}),
        ),
        Body("small", "/v1/losses/bce", dump({"predictions": probabilities, "targets": labels})),
        Body(
            "small",
            "/v1/evaluate",
            dump(
                {
                    "predictions": probabilities,
                    "targets": labels,
                    "losses": [{"name": "bce", "weight": 0.7}, {"name": "mse", "weight": 0.3}],
                }
            ),
        ),
    ]
    large_predictions = rng.normal(size=large_size)
    large_targets = large_predictions + rng.normal(scale=0.5, size=large_size)
    large = [
        Body(
            "large",
            "/v1/losses/mse",
            dump({"predictions": large_predictions, "targets": large_targets, "gradient": True}),
        )
    ]
    return {"small": small, "large": large}


@dataclass
class Tally:
    """What the load generator saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"small": [], "large": []})
    errors: dict[str, int] = field(default_factory=dict)
    # The first few errors: seconds into the run, request kind and path, what happened.
    error_log: list[str] = field(default_factory=list)
    bytes_out: int = 0
    bytes_in: int = 0

    def error(self, reason: str, detail: str = "") -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1
        if len(self.error_log) < 20:
            self.error_log.append(f"{reason}: {detail}")

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values()) + self.error_count

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


async def drive(
    base_url: str,
    prepared: dict[str, list[Body]],
    *,
    duration: float,
    concurrency: int,
    large_every: int,
    timeout: float,
) -> tuple[Tally, float]:
    """Closed-loop load for `duration` seconds; the tally and the seconds it really took."""
    tally = Tally()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json"}
    counter = iter(range(1 << 62))
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=timeout, trust_env=False
    ) as client:
        started = time.perf_counter()
        deadline = started + duration

        def where(body: Body, sent: float) -> str:
            waited = time.perf_counter() - sent
            return f"at {sent - started:.2f} s, {body.kind} {body.path}, after {waited:.2f} s"

        async def worker() -> None:
            while time.perf_counter() < deadline:
                number = next(counter)
                if large_every > 0 and number % large_every == large_every - 1:
                    body = prepared["large"][number % len(prepared["large"])]
                else:
                    body = prepared["small"][number % len(prepared["small"])]
                sent = time.perf_counter()
                try:
                    response = await client.post(body.path, content=body.content, headers=headers)
                except httpx.TimeoutException:
                    tally.error("timeout", where(body, sent))
                    continue
                except httpx.TransportError as error:
                    tally.error(type(error).__name__, f"{where(body, sent)} {error!r}")
                    continue
                elapsed = time.perf_counter() - sent
                if response.status_code != 200:
                    detail = f"{where(body, sent)} {response.text[:200]}"
                    tally.error(f"HTTP {response.status_code}", detail)
                    continue
                tally.latencies[body.kind].append(elapsed)
                tally.bytes_out += len(body.content)
                tally.bytes_in += len(response.content)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return tally, time.perf_counter() - started


def _typed(values: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {"dtype": "float64", "shape": list(values.shape), "data": values.tobytes()}


def _hostile_bodies() -> list[tuple[str, str, bytes, str]]:
    """(name, path, body, content type) of the hostile cases sent as whole requests."""
    n = 100_000
    values = np.linspace(0.0, 1.0, n)
    typed = _typed(values)
    keys = [f"g{i % 100}" for i in range(n)]
    keys[n // 2] = "x" * 3000
    many_keys: dict[str, Any] = {"predictions": [1.0], "targets": [1.0]}
    many_keys.update((f"k{i}", 1) for i in range(1_000_000))
    deep = b"[" * 1000 + b"1" + b"]" * 1000
    msgpack_type, json_type = "application/msgpack", "application/json"
    return [
        (
            "long group key",
            "/v1/losses/mse",
            msgpack.packb({"predictions": typed, "targets": typed, "group_by": keys}),
            msgpack_type,
        ),
        (
            "1000 losses",
            "/v1/evaluate",
            msgpack.packb(
                {"predictions": typed, "targets": typed, "losses": [{"name": "mse"}] * 1000}
            ),
            msgpack_type,
        ),
        ("a million keys", "/v1/losses/mse", orjson.dumps(many_keys), json_type),
        (
            "65 dimensions",
            "/v1/losses/mse",
            orjson.dumps(
                {
                    "predictions": {"dtype": "float64", "shape": [1] * 65, "data": "AAAAAAAA8D8="},
                    "targets": [1.0],
                }
            ),
            json_type,
        ),
        (
            "huge empty shape",
            "/v1/losses/mse",
            orjson.dumps(
                {
                    "predictions": {"dtype": "float64", "shape": [0, 2**62, 2**62], "data": ""},
                    "targets": [1.0],
                }
            ),
            json_type,
        ),
        (
            "list 1000 deep",
            "/v1/losses/mse",
            b'{"predictions": [1, ' + deep + b'], "targets": [1, 1]}',
            json_type,
        ),
        (
            "10**400",
            "/v1/losses/mse",
            b'{"predictions": [1' + b"0" * 400 + b'], "targets": [1]}',
            json_type,
        ),
        ("60 KB loss name", "/v1/losses/" + "x" * 60_000, b"{}", json_type),
    ]


async def _raw(port: int, request: bytes, *, trickle: float = 0.0, leave_after: float = 0.0) -> str:
    """Send `request` on a raw connection (a byte every `trickle` seconds, or at once), read the
    status line; with `leave_after`, close the connection that many seconds after sending."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if trickle:
            for byte in request:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(trickle)
        else:
            writer.write(request)
            await writer.drain()
        if leave_after:
            await asyncio.sleep(leave_after)
            return "left"
        line = await reader.readline()
        return line.decode("latin-1").strip() or "closed"
    except (ConnectionError, OSError):
        return "reset"
    finally:
        writer.close()


def _hostile_raw(port: int) -> list[tuple[str, Any]]:
    """(name, coroutine factory) of the hostile cases that need a raw connection."""
    header = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000_000
    slow_body = (
        b"POST /v1/losses/mse HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10000000\r\n\r\n" + b"[" * 200
    )
    n = 1_000_000
    values = _typed(np.linspace(0.0, 1.0, n))
    leaving = msgpack.packb(
        {"predictions": values, "targets": values, "losses": [{"name": "log_cosh"}] * 8}
    )
    leaving_request = (
        b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/msgpack\r\n"
        b"Content-Length: %d\r\n\r\n" % len(leaving) + leaving
    )
    return [
        ("20 MB header", lambda: _raw(port, header)),
        ("slow headers", lambda: _raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", trickle=1.0)),
        ("slow body", lambda: _raw(port, slow_body, trickle=0.001)),
        ("leaves mid-computation", lambda: _raw(port, leaving_request, leave_after=0.3)),
    ]


async def hostile(
    base_url: str, every: float, duration: float, timeout: float, outcomes: dict[str, int]
) -> None:
    """One hostile request every `every` seconds for `duration` seconds, each in its own task;
    outcomes by case and status ("5xx" or "hang" among them are failures)."""
    port = int(base_url.rsplit(":", 1)[1])
    whole = _hostile_bodies()
    raw = _hostile_raw(port)
    cases = len(whole) + len(raw)
    tasks = []
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, trust_env=False) as client:

        async def send(number: int) -> None:
            index = number % cases
            name = whole[index][0] if index < len(whole) else raw[index - len(whole)][0]
            try:
                if index < len(whole):
                    _, path, body, content_type = whole[index]
                    response = await client.post(
                        path, content=body, headers={"content-type": content_type}
                    )
                    outcome = str(response.status_code)
                else:
                    # Longer than the server's own deadlines (body_timeout: 60 s by default), which
                    # are what answers these.
                    outcome = await asyncio.wait_for(raw[index - len(whole)][1](), timeout + 60)
            except (TimeoutError, httpx.TimeoutException):
                outcome = "hang"
            except httpx.TransportError as error:
                outcome = type(error).__name__
            key = f"{name}: {outcome}"
            outcomes[key] = outcomes.get(key, 0) + 1

        started = time.perf_counter()
        number = 0
        while time.perf_counter() - started < duration:
            tasks.append(asyncio.create_task(send(number)))
            number += 1
            await asyncio.sleep(every)
        await asyncio.gather(*tasks)


def _hostile_failures(outcomes: dict[str, int]) -> int:
    """Hostile outcomes that are failures of the server: a 5xx, or no answer in time."""
    failed = 0
    for key, count in outcomes.items():
        outcome = key.rsplit(": ", 1)[1]
        if outcome == "hang" or outcome.startswith("5") or outcome.startswith("HTTP/1.1 5"):
            failed += count
    return failed


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return float(np.percentile(np.asarray(values), q))


def latency_summary(values: Sequence[float]) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {
        "count": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(max(values) if values else None),
    }


# --- the server under test -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc/<pid>/stat (field 4 is the parent)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree = [pid]
    for member in tree:
        tree += [child for child, parent in parents.items() if parent == member]
    return tree


def rss_bytes(pid: int) -> int:
    """VmRSS of `pid` and its descendants (the server's workers), summed."""
    total = 0
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes] | None = None


@contextmanager
def server_under_test(args: argparse.Namespace) -> Iterator[Server]:
    """The server to drive: --url, or a `loss-service serve` started (and stopped) here."""
    if args.url:
        yield Server(args.url.rstrip("/"))
        return
    port = free_port()
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("LOSS_SERVICE_")
    }
    environment["LOSS_SERVICE_LOG_LEVEL"] = "warning"  # one access line per request otherwise
    environment.update(dict(setting.split("=", 1) for setting in args.env))
    command = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(args.workers)]
    process = subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL)
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            try:
                if httpx.get(f"{server.base_url}/readyz", timeout=1, trust_env=False).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in time")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# --- the two runs ----------------------------------------------------------------------------


async def sample_rss(
    pid: int, every: float, samples: list[tuple[float, int]], started: float
) -> None:
    while True:
        samples.append((time.perf_counter() - started, rss_bytes(pid)))
        await asyncio.sleep(every)


async def run(args: argparse.Namespace, server: Server) -> dict[str, Any]:
    prepared = bodies(args.small_size, args.large_size)
    # Warm-up: the first requests pay for imports and allocations the run should not count.
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=60) as client:
        for body in prepared["small"] + prepared["large"]:
            response = await client.post(
                body.path, content=body.content, headers={"content-type": "application/json"}
            )
            response.raise_for_status()
    samples: list[tuple[float, int]] = []
    sampler = None
    started = time.perf_counter()
    pid = server.process.pid if server.process is not None else None
    if pid is not None:
        sampler = asyncio.create_task(sample_rss(pid, args.sample_every, samples, started))
    hostile_outcomes: dict[str, int] = {}
    hostile_task = None
    if args.hostile_every > 0:
        hostile_task = asyncio.create_task(
            hostile(
                server.base_url, args.hostile_every, args.duration, args.timeout, hostile_outcomes
            )
        )
    tally, elapsed = await drive(
        server.base_url,
        prepared,
        duration=args.duration,
        concurrency=args.concurrency,
        large_every=args.large_every,
        timeout=args.timeout,
    )
    if hostile_task is not None:
        await hostile_task
    if sampler is not None and pid is not None:
        sampler.cancel()
        samples.append((time.perf_counter() - started, rss_bytes(pid)))
    everything = tally.latencies["small"] + tally.latencies["large"]
    result: dict[str, Any] = {
        "mode": args.mode,
        "duration_s": round(elapsed, 1),
        "concurrency": args.concurrency,
        "workers": None if args.url else args.workers,
        "small_size": args.small_size,
        "large_size": args.large_size,
        "large_every": args.large_every,
        "requests": tally.requests,
        "errors": tally.error_count,
        "error_kinds": tally.errors,
        "error_log": tally.error_log,
        "throughput_rps": round(len(everything) / elapsed, 1),
        "mb_per_s": round((tally.bytes_in + tally.bytes_out) / elapsed / 1e6, 1),
        "latency": latency_summary(everything),
        "latency_small": latency_summary(tally.latencies["small"]),
        "latency_large": latency_summary(tally.latencies["large"]),
    }
    if args.hostile_every > 0:
        result["hostile"] = dict(sorted(hostile_outcomes.items()))
        result["hostile_failures"] = _hostile_failures(hostile_outcomes)
    if samples:
        baseline_at = min(args.rss_baseline_at, samples[-1][0])
        baseline = next(rss for at, rss in samples if at >= baseline_at)
        final = samples[-1][1]
        result["rss_mb"] = {
            "start": round(samples[0][1] / 2**20, 1),
            f"at_{baseline_at:g}s": round(baseline / 2**20, 1),
            "end": round(final / 2**20, 1),
            "peak": round(max(rss for _, rss in samples) / 2**20, 1),
            "growth_pct": round(100 * (final - baseline) / baseline, 2),
        }
        # The curve: one sample per tenth of the run, to tell a plateau from a leak.
        step = max(samples[-1][0] / 10, args.sample_every)
        curve, due = [], 0.0
        for at, rss in samples:
            if at >= due:
                curve.append([round(at), round(rss / 2**20, 1)])
                due = at + step
        result["rss_curve_s_mb"] = curve
    return result


def report(result: dict[str, Any]) -> None:
    print(f"{result['mode']}: {result['duration_s']} s at concurrency {result['concurrency']}")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print(f"  machine: {machine}")
    print(
        f"  requests {result['requests']}, errors {result['errors']} {result['error_kinds'] or ''}"
    )
    print(f"  throughput {result['throughput_rps']} requests/s, {result['mb_per_s']} MB/s")
    for key in ("latency", "latency_small", "latency_large"):
        summary = result[key]
        print(
            f"  {key}: n={summary['count']} p50={summary['p50_ms']} ms p99={summary['p99_ms']} ms "
            f"max={summary['max_ms']} ms"
        )
    if "hostile" in result:
        print(f"  hostile ({result['hostile_failures']} failures): {result['hostile']}")
    for line in result["error_log"]:
        print(f"  error {line}")
    if "rss_mb" in result:
        print(f"  rss (MB): {result['rss_mb']}")
        print(f"  rss curve (s, MB): {result['rss_curve_s_mb']}")
    if "server_exit_code" in result:
        print(f"  server exit code after SIGTERM: {result['server_exit_code']}")
    print(json.dumps(result, sort_keys=True))


DEFAULTS = {
    "load": {"duration": 60.0, "concurrency": 64, "rss_baseline_at": 0.0},
    "soak": {"duration": 600.0, "concurrency": 8, "rss_baseline_at": 60.0},
}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("mode", choices=sorted(DEFAULTS))
    parser.add_argument("--duration", type=float, help="seconds of traffic (load 60, soak 600)")
    parser.add_argument("--concurrency", type=int, help="requests in flight (load 64, soak 8)")
    parser.add_argument("--small-size", type=int, default=100, help="elements per small array")
    parser.add_argument("--large-size", type=int, default=100_000, help="elements per large array")
    parser.add_argument("--large-every", type=int, default=10, help="one large request in N")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--url", help="drive this running server instead of starting one")
    parser.add_argument("--workers", type=int, default=1, help="workers of the started server")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS reads")
    parser.add_argument("--rss-baseline-at", type=float, help="seconds: the RSS baseline (soak 60)")
    parser.add_argument("--max-rss-growth", type=float, default=10.0, help="percent (soak)")
    parser.add_argument(
        "--hostile-every",
        type=float,
        default=0.0,
        help="seconds between hostile requests (0: none)",
    )
    args = parser.parse_args(argv)
    for key, value in DEFAULTS[args.mode].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    with server_under_test(args) as server:
        result = asyncio.run(run(args, server))
    if server.process is not None:
        result["server_exit_code"] = server.process.returncode
    report(result)
    failed = result["errors"] > 0 or result.get("server_exit_code", 0) != 0
    failed |= result.get("hostile_failures", 0) > 0
    if args.mode == "soak" and "rss_mb" in result:
        failed |= result["rss_mb"]["growth_pct"] > args.max_rss_growth
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
