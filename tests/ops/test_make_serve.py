"""`make serve`, as the README tells a newcomer to run it: the settings' environment picks the
address."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from .live import STARTUP_SECONDS, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_serve_listens_on_loss_service_port() -> None:
    port = free_port()
    environment = {**os.environ, "LOSS_SERVICE_PORT": str(port), "LOSS_SERVICE_WORKERS": "1"}
    # A session of its own, so that make and the server it starts stop together.
    process = subprocess.Popen(
        ["make", "--no-print-directory", "serve"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200
        except httpx.TransportError:
            assert process.poll() is None, "make serve ended"
            return False

    try:
        wait_until(healthy, STARTUP_SECONDS, f"make serve on {port}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
