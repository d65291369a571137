"""`loss-service serve --workers 2`: uvicorn's supervisor runs both, requests spread over them,
/metrics reports the totals of both whichever answers the scrape, a killed worker is replaced
while the other keeps answering, and its counts stay in the totals while its in-flight share
leaves them."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from .live import (
    HeldRequest,
    LiveServer,
    live_server,
    metric,
    process_environment,
    wait_until,
    worker_holding,
)

REQUESTS = "loss_service_http_requests_total"
ELEMENTS = "loss_service_elements_scored_total"
IN_FLIGHT = "loss_service_http_requests_in_flight"
MSE = {"predictions": [1.0, 2.0, 3.0], "targets": [1.0, 2.0, 5.0]}
MSE_ROUTE = {"method": "POST", "route": "/v1/losses/mean_squared_error", "status": "200"}


def pids_answering(server: LiveServer, path: str) -> set[int]:
    return {line["pid"] for line in server.access_lines() if line["path"] == path}


def post_batch(server: LiveServer, count: int) -> int:
    """`count` requests on connections of their own, four at a time; all must succeed."""
    with ThreadPoolExecutor(4) as pool:
        statuses = list(
            pool.map(lambda _: server.post("/v1/losses/mse", MSE).status_code, range(count))
        )
    assert statuses == [200] * count
    return count


def test_two_workers_share_requests_metrics_and_survive_a_killed_worker(tmp_path: Path) -> None:
    # The access lines tell which worker answered: written at once, not batched.
    with live_server(tmp_path, workers=2, log_flush_interval="0") as server:
        workers = wait_until(lambda: len(w := server.workers()) == 2 and w, 10, "two workers")
        directory = Path(process_environment(min(workers))["PROMETHEUS_MULTIPROC_DIR"])
        assert directory.is_dir()
        assert directory.name.startswith("loss-service-metrics-")

        # The kernel hands new connections to whichever worker accepts first: both get some.
        sent = 0

        def both_answered() -> bool:
            nonlocal sent
            sent += post_batch(server, 8)
            return pids_answering(server, "/v1/losses/mse") == workers

        wait_until(both_answered, 15, "requests reach both workers")

        # Each scrape is answered by one worker and reports the requests of both.
        def every_scrape_has_the_total() -> bool:
            text = server.metrics()
            assert metric(text, REQUESTS, **MSE_ROUTE) == sent
            assert metric(text, ELEMENTS, loss="mean_squared_error") == 3 * sent
            return pids_answering(server, "/metrics") == workers

        wait_until(every_scrape_has_the_total, 15, "both workers answer /metrics")

        # Requests held in flight on both workers; then one worker is killed.
        body = orjson.dumps(MSE)
        held = [HeldRequest(server.port, "/v1/losses/mse", body, first_part=5) for _ in range(6)]
        try:
            wait_until(
                lambda: metric(server.metrics(), IN_FLIGHT) == len(held) + 1, 10, "held in flight"
            )
            owner = {
                request: worker_holding(workers, server.port, request.client_port)
                for request in held
            }
            assert set(owner.values()) <= workers
            victim = max(workers, key=lambda pid: list(owner.values()).count(pid))
            os.kill(victim, signal.SIGKILL)

            # The other worker keeps answering while the supervisor starts a replacement.
            sent += post_batch(server, 8)
            replacements = wait_until(
                lambda: len(w := server.workers()) == 2 and victim not in w and w - workers,
                15,
                "a replacement worker",
            )
            survivors = [request for request in held if owner[request] != victim]
            assert len(survivors) < len(held)
            assert all(request.closed_by_server() for request in held if owner[request] == victim)

            # The dead worker's requests in flight leave the gauge; the survivors' stay.
            wait_until(
                lambda: metric(server.metrics(), IN_FLIGHT) == len(survivors) + 1,
                10,
                "the dead worker's in-flight share dropped",
            )
            for request in survivors:
                status, document = request.finish()
                assert status == 200
                assert document["value"] == 4.0 / 3
            sent += len(survivors)
        finally:
            for request in held:
                request.close()

        # The replacement serves too, and the killed worker's counts are still in the totals.
        def replacement_answered() -> bool:
            nonlocal sent
            sent += post_batch(server, 4)
            return bool(pids_answering(server, "/v1/losses/mse") & replacements)

        wait_until(replacement_answered, 15, "the replacement answers")
        wait_until(
            lambda: metric(server.metrics(), REQUESTS, **MSE_ROUTE) == sent, 5, "totals kept"
        )
        assert server.terminate() == 0
    assert not directory.exists(), "the metrics directory outlived the server"


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_end_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """Seen after `make test`: two workers still listening half an hour after their supervisor
    was gone. Each worker now asks the kernel for SIGTERM when its supervisor dies, and stops
    gracefully."""
    with live_server(tmp_path, workers=2, shutdown_timeout="5") as server:
        workers = wait_until(
            lambda: server.workers() if len(server.workers()) == 2 else None, 30, "two workers"
        )
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        wait_until(lambda: not any(alive(pid) for pid in workers), 15, "the workers to end")
    for pid in workers:
        assert not alive(pid)
