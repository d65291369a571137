"""Prometheus metrics: requests by route and status, latency by route and status, requests in
flight, request and response body bytes, and losses and elements scored per loss (each loss of
an evaluate request counts); correct across worker processes.

With `--workers` above 1, `loss-service serve` points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before the workers start; prometheus-client then keeps every value in a per-process
file there, and `/metrics` (answered by any one worker) merges the files of all of them. Counts
of a worker that died stay in the totals; its share of the in-flight gauge is dropped
(`mark_process_dead`), by the worker itself on a clean exit and by whichever worker scrapes or
starts next after a crash.

Label values are bounded: the route is the template that matched, with a loss's own path under its
canonical name (`/v1/losses/mse` counts as `/v1/losses/mean_squared_error`, never the raw path;
see `middleware.route_label`), the method is one of the standard ones or `other`, the status is
one the service answers, and losses are registry names.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    multiprocess,
    values,
)

__all__ = [
    "CONTENT_TYPE",
    "MULTIPROCESS_ENV",
    "Metrics",
    "forget_dead_processes",
    "multiprocess_dir",
]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# 256 B to 128 MiB (the default body limit) in steps of 4.
BODY_BUCKETS = (*(float(4**power) for power in range(4, 14)), float(128 * 2**20))

# prometheus-client leaves these two unannotated; their types, for mypy's strict mode.
_mark_process_dead: Callable[[int, str], None] = multiprocess.mark_process_dead
_MultiProcessCollector: Callable[[CollectorRegistry, str], object] = (
    multiprocess.MultiProcessCollector
)

_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def multiprocess_dir() -> str | None:
    """The multiprocess directory, if prometheus-client runs in multiprocess mode.

    prometheus-client picks its value store once, when imported: the environment variable and
    the store agree unless the variable was set after the import, which `serve` never does.
    """
    if values.ValueClass is values.MutexValue:
        return None
    return os.environ.get(MULTIPROCESS_ENV)


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by uvicorn, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        # /proc/<pid>/stat: "pid (command) state ..."; the command may hold spaces.
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        return state != "Z"
    return True


def forget_dead_processes(directory: str) -> list[int]:
    """Drop the live-gauge files of processes that no longer run; returns their pids."""
    dead = []
    for path in Path(directory).glob("gauge_live*_*.db"):
        match = _LIVE_FILE.fullmatch(path.name)
        if match and not _alive(pid := int(match.group(1))):
            _mark_process_dead(pid, directory)
            dead.append(pid)
    return dead


class Metrics:
    """The service's metrics, registered in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.directory = multiprocess_dir()
        registry = self.registry
        self.requests = Counter(
            "loss_service_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "loss_service_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by method, route and "
            "status (a refusal is fast, a success is not: one histogram would mix them).",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "loss_service_http_requests_in_flight",
            "HTTP requests being handled now (all workers).",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.body_bytes = Histogram(
            "loss_service_http_request_body_bytes",
            "Request body bytes received (as sent: compressed if gzip), by route.",
            ["route"],
            buckets=BODY_BUCKETS,
            registry=registry,
        )
        self.response_bytes = Histogram(
            "loss_service_http_response_body_bytes",
            "Response body bytes sent (as sent: compressed if gzip), by route.",
            ["route"],
            buckets=BODY_BUCKETS,
            registry=registry,
        )
        self.losses = Counter(
            "loss_service_losses_scored",
            "Losses computed, by loss: one per compute request, one per loss of an evaluate "
            "request.",
            ["loss"],
            registry=registry,
        )
        self.elements = Counter(
            "loss_service_elements_scored",
            "Prediction elements scored, by loss (a loss of an evaluate request counts them all).",
            ["loss"],
            registry=registry,
        )
        if self.directory is None:
            # CPU, memory and file descriptors of this process; not defined across processes.
            ProcessCollector(registry=registry)
        # The labelled series, kept once looked up, as prometheus-client suggests for hot paths:
        # `labels()` takes a lock and builds a tuple at every call. Every label is bounded (see
        # the module docstring), so are these.
        self._series: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = metric.labels(*labels)
        return child

    def observe(
        self,
        method: str,
        route: str,
        status: int,
        seconds: float,
        bytes_in: int,
        bytes_out: int,
    ) -> None:
        """Count one finished request."""
        method = method if method in METHODS else "other"
        code = str(status)
        self._child(self.requests, method, route, code).inc()
        self._child(self.latency, method, route, code).observe(seconds)
        if method in BODY_METHODS:
            self._child(self.body_bytes, route).observe(bytes_in)
        self._child(self.response_bytes, route).observe(bytes_out)

    def count_scored(self, losses: Sequence[str], elements: int) -> None:
        """Count each of `losses` as computed once over `elements` prediction elements."""
        for loss in losses:
            self._child(self.losses, loss).inc()
            self._child(self.elements, loss).inc(elements)

    def exposition(self) -> bytes:
        """The metrics in Prometheus's text format: this process's, or every worker's."""
        if self.directory is None:
            return generate_latest(self.registry)
        forget_dead_processes(self.directory)
        merged = CollectorRegistry()
        _MultiProcessCollector(merged, self.directory)
        return generate_latest(merged)

    def worker_started(self) -> None:
        """A worker starts: forget the in-flight share of workers that crashed."""
        if self.directory is not None:
            forget_dead_processes(self.directory)

    def worker_stopped(self) -> None:
        """A worker stops cleanly: its in-flight share leaves the totals."""
        if self.directory is not None:
            _mark_process_dead(os.getpid(), self.directory)
