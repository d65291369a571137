"""GET /metrics in one process: the values after known requests, bounded labels, the spec entry,
and the multiprocess bookkeeping for workers that died (the live two-worker test is
test_workers.py)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson

from service.api.metrics import BODY_BUCKETS, forget_dead_processes

from .conftest import Client
from .live import metric

REQUESTS = "loss_service_http_requests_total"
LATENCY = "loss_service_http_request_duration_seconds"
BODY = "loss_service_http_request_body_bytes"
RESPONSE = "loss_service_http_response_body_bytes"
LOSSES = "loss_service_losses_scored_total"
ELEMENTS = "loss_service_elements_scored_total"
IN_FLIGHT = "loss_service_http_requests_in_flight"
MSE = {"predictions": [[1.0, 2.0], [3.0, 4.0]], "targets": [[1.0, 2.0], [3.0, 5.0]]}
MSE_BYTES = orjson.dumps(MSE)


def post_json(client: Client, path: str, body: object, **headers: str) -> tuple[int, int]:
    """Status and body size of a POST."""
    content = orjson.dumps(body)
    response = client.post(
        path, content=content, headers={"content-type": "application/json", **headers}
    )
    return response.status_code, len(content)


def test_metrics_count_requests_latency_bytes_and_elements(
    make_client: Callable[..., Client],
) -> None:
    client = make_client()
    sizes = [post_json(client, "/v1/losses/mse", MSE)[1] for _ in range(3)]
    assert post_json(client, "/v1/losses/MSE", MSE)[0] == 200  # any spelling
    assert post_json(client, "/v1/losses/huber", {"predictions": [1.0]})[0] == 422
    evaluate = {**MSE, "losses": [{"name": "huber"}, {"name": "l1", "weight": 2.0}]}
    assert post_json(client, "/v1/evaluate", evaluate)[0] == 200
    compressed = gzip.compress(orjson.dumps(MSE))
    response = client.post(
        "/v1/losses/mse",
        content=compressed,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 200
    assert client.get("/v1/losses/nope").status_code == 404
    assert client.post("/v1/losses/nope", content=b"{}").status_code == 404
    describe = client.get("/v1/losses/l2")
    assert describe.status_code == 200
    assert client.get("/nowhere/at/all").status_code == 404
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/static/swagger-ui.css").status_code == 200

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text

    # Requests by route and status: a loss's own path under its canonical name, whatever the
    # alias or spelling; the template for a name that is no loss; never the raw path.
    mse = "/v1/losses/mean_squared_error"
    assert metric(text, REQUESTS, method="POST", route=mse, status="200") == 5
    assert metric(text, REQUESTS, method="POST", route="/v1/losses/huber", status="422") == 1
    assert metric(text, REQUESTS, method="POST", route="/v1/evaluate", status="200") == 1
    assert metric(text, REQUESTS, method="GET", route="/v1/losses/{name}", status="404") == 1
    assert metric(text, REQUESTS, method="POST", route="/v1/losses/{name}", status="404") == 1
    assert metric(text, REQUESTS, method="GET", route=mse, status="200") == 1
    assert metric(text, REQUESTS, method="GET", route="unmatched", status="404") == 1
    for route in ("/openapi.json", "/docs", "/static/{path}"):
        assert metric(text, REQUESTS, method="GET", route=route, status="200") == 1, route
    assert "nowhere" not in text
    assert 'route="/v1/losses/nope"' not in text
    assert 'route="/v1/losses/mse"' not in text

    # Latency: one observation per request, by route and status, all under the top bucket.
    ok = {"method": "POST", "route": mse, "status": "200"}
    assert metric(text, f"{LATENCY}_count", **ok) == 5
    assert metric(text, f"{LATENCY}_bucket", **ok, le="+Inf") == 5
    assert 0 < metric(text, f"{LATENCY}_sum", **ok) < 60
    refused = {"method": "POST", "route": "/v1/losses/huber", "status": "422"}
    assert metric(text, f"{LATENCY}_count", **refused) == 1

    # Body bytes as received: four JSON bodies and one gzip body.
    assert metric(text, f"{BODY}_count", route=mse) == 5
    assert metric(text, f"{BODY}_sum", route=mse) == sum(sizes) + len(MSE_BYTES) + len(compressed)
    assert metric(text, f"{BODY}_bucket", route=mse, le="256.0") == 5
    assert len(BODY_BUCKETS) == 11

    # Response bytes as sent, for every method: the GET of the loss's entry among them.
    assert metric(text, f"{RESPONSE}_count", route=mse) == 6
    assert metric(text, f"{RESPONSE}_sum", route=mse) > len(describe.content)

    # Losses and elements scored per loss (canonical names): one per request, one per loss of
    # an evaluate request, 4 elements each; the 422 scored nothing.
    assert metric(text, LOSSES, loss="mean_squared_error") == 5
    assert metric(text, LOSSES, loss="huber") == 1
    assert metric(text, LOSSES, loss="mean_absolute_error") == 1
    assert metric(text, ELEMENTS, loss="mean_squared_error") == 5 * 4
    assert metric(text, ELEMENTS, loss="huber") == 4
    assert metric(text, ELEMENTS, loss="mean_absolute_error") == 4

    # The scrape itself is the one request in flight.
    assert metric(text, IN_FLIGHT) == 1
    assert metric(client.get("/metrics").text, IN_FLIGHT) == 1


def test_unknown_methods_share_one_label(make_client: Callable[..., Client]) -> None:
    client = make_client()
    for method in ("BREW", "PROPFIND", "X-ANYTHING"):
        assert client.request(method, "/healthz").status_code == 405
    text = client.get("/metrics").text
    assert metric(text, REQUESTS, method="other", route="/healthz", status="405") == 3
    assert "BREW" not in text


def test_each_app_counts_its_own_requests(make_client: Callable[..., Client]) -> None:
    first, second = make_client(), make_client()
    post_json(first, "/v1/losses/mse", MSE)
    text = second.get("/metrics").text
    route = "/v1/losses/mean_squared_error"
    assert metric(text, REQUESTS, method="POST", route=route, status="200") == 0


def test_metrics_are_in_the_spec_and_open(make_client: Callable[..., Client]) -> None:
    client = make_client(api_keys=("k",))
    assert client.get("/metrics").status_code == 200
    operation = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert operation["operationId"] == "metrics"
    assert operation["tags"] == ["operations"]
    assert operation["security"] == []  # open, whatever the document requires
    assert "text/plain" in operation["responses"]["200"]["content"]


def test_dead_processes_leave_the_live_gauges(tmp_path: Path) -> None:
    """What the workers do on start and on each scrape: the live-gauge files of pids that no
    longer run go; the others (and every counter file) stay."""
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        check=True,
        text=True,
    )
    dead, alive = int(finished.stdout), os.getpid()
    names = [f"gauge_livesum_{dead}.db", f"gauge_livesum_{alive}.db", f"counter_{dead}.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert forget_dead_processes(str(tmp_path)) == [dead]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names[1:])


def test_a_zombie_worker_counts_as_dead(tmp_path: Path) -> None:
    """A killed worker stays a zombie until uvicorn reaps it: its share must go already."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        # Not waited for: once it exits it is a zombie until wait() below.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        (tmp_path / f"gauge_livesum_{child.pid}.db").write_bytes(b"")
        assert forget_dead_processes(str(tmp_path)) == [child.pid]
    finally:
        child.wait()
