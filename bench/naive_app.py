"""The baselines bench/http.py measures the service against, as a FastAPI app of their own.

`POST /v1/losses/mean_squared_error` is what a user writes in ten minutes: a pydantic body of two
`list[float]`, numpy for the loss and its gradient, `tolist()` on the way out, FastAPI's default
JSON in and out. `POST /bare` is the least a FastAPI endpoint can do for a POST: read the body,
answer fixed bytes; the small-request load test divides the service's requests per second by
its. `POST /sink?size=R` reads a body and answers R zero bytes: the HTTP transfer alone of a
request and a response the size of the service's.

Run from the project root: uvicorn bench.naive_app:app (bench/http.py starts it so).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.responses import Response

app = FastAPI(title="naive baseline")


class MeanSquaredErrorRequest(BaseModel):
    predictions: list[float]
    targets: list[float]


@app.post("/v1/losses/mean_squared_error")
def mean_squared_error(request: MeanSquaredErrorRequest) -> dict[str, Any]:
    predictions = np.asarray(request.predictions)
    targets = np.asarray(request.targets)
    residual = predictions - targets
    return {
        "loss": "mean_squared_error",
        "value": float(np.mean(residual**2)),
        "gradient": (2.0 * residual / residual.size).tolist(),
    }


_BARE = b'{"value":0.0}'


@app.post("/bare")
async def bare(request: Request) -> Response:
    await request.body()
    return Response(_BARE, media_type="application/json")


@app.post("/sink")
async def sink(request: Request, size: int = 0) -> Response:
    await request.body()
    return Response(bytes(size), media_type="application/octet-stream")
