"""Time the pictures: GET /v1/losses/{name}/plot cold (the first in a fresh process, which loads
matplotlib; then each loss's first draw) and cached, and the size of the page at / with every
asset it loads (HTML, script, style, catalogue and one plot per loss), raw and gzipped as served.

In-process through the ASGI app (httpx's ASGITransport), so the numbers are the service's own
work, not the network's. The first picture of a process is timed in a fresh interpreter.

Usage: python bench/plots.py [--repeat 5] [--losses NAME ...]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Run as a script, this directory comes first on sys.path, and bench/http.py beside this file
# would stand in for the standard library's http package that httpx imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import httpx

FIRST_PICTURE = """
import time
started = time.perf_counter()
from service import plots
plots.render("huber")
print(time.perf_counter() - started)
"""


async def main(repeat: int, names: list[str] | None) -> None:
    from service import plots
    from service.api import create_app
    from service.config import Settings
    from service.losses import LOSSES

    first = [
        float(
            subprocess.run(
                [sys.executable, "-c", FIRST_PICTURE], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeat)
    ]
    first_ms = statistics.median(first) * 1e3
    print(f"first picture of a process (imports matplotlib): median {first_ms:.0f} ms")

    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await client.get("/v1/losses/mse/plot")  # matplotlib loaded, fonts found
        cold, cached = [], []
        chosen = names or list(LOSSES)
        for name in chosen:
            plots._render_cached.cache_clear()
            started = time.perf_counter()
            response = await client.get(f"/v1/losses/{name}/plot")
            cold.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            for _ in range(repeat):
                started = time.perf_counter()
                await client.get(f"/v1/losses/{name}/plot")
                cached.append(time.perf_counter() - started)
        cold_ms, worst_ms = statistics.median(cold) * 1e3, max(cold) * 1e3
        print(
            f"cold draw, one per loss ({len(cold)}): median {cold_ms:.0f} ms, max {worst_ms:.0f} ms"
        )
        print(f"cached: median {statistics.median(cached) * 1e3:.2f} ms")

        assets = ["/", "/static/page.js", "/static/page.css", "/v1/losses"]
        assets += [f"/v1/losses/{name}/plot" for name in chosen]
        raw = wire = 0
        for url in assets:
            body = (await client.get(url, headers={"Accept-Encoding": "identity"})).content
            raw += len(body)
            wire += len(gzip.compress(body, compresslevel=6)) if len(body) > 500 else len(body)
        print(
            f"page at / with its {len(assets)} assets: {raw / 1024:.0f} KiB raw, "
            f"{wire / 1024:.0f} KiB gzipped"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--losses", nargs="*", help="these losses only (default: every loss)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.repeat, arguments.losses))
