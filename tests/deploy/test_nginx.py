"""deploy/nginx/nginx.conf, run by Debian's nginx on loopback in front of two service processes.

The configuration is the file docker-compose.yml mounts, with only the upstream servers, the
listen address, the header timeout (shortened so the test is quick) and the temporary paths
swapped in; each swap must match exactly once, so a change to the file that breaks the test's
reading of it fails loudly instead of testing something else.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
SERVICE = Path(sys.executable).with_name("loss-service")
HEADER_TIMEOUT_S = 1
STARTUP_TIMEOUT_S = 30.0
MAX_BODY_BYTES = 128 * 2**20
MSE_REQUEST = {"predictions": [1.0, 2.0, 3.0], "targets": [1.0, 2.0, 5.0]}


def find_nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


NGINX = find_nginx()
if NGINX is None:
    # `make test` installs nginx first; in CI a missing nginx is a broken set-up, not a skip.
    if os.environ.get("CI"):
        raise RuntimeError("nginx is not installed: run `make deploy-tools`")
    pytest.skip("nginx is not installed (make deploy-tools)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll `url` until it answers 200, failing early if `process` exits."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def render_nginx_conf(
    template: str, *, listen_port: int, backend_ports: list[int], temp_dir: Path
) -> str:
    """The compose configuration with loopback addresses, a short header timeout, private paths."""
    backends = "".join(f"\\1server 127.0.0.1:{port}\\2;\n" for port in backend_ports)
    temp_paths = "".join(
        f"    {kind}_temp_path {temp_dir / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    swaps = [
        (r"^( *)server loss-service-replica:8000([^;]*);\n", backends),
        (r"^( *)listen 8080;$", rf"\1listen 127.0.0.1:{listen_port};"),
        (r"^( *)client_header_timeout \S+;$", rf"\1client_header_timeout {HEADER_TIMEOUT_S}s;"),
        (r"^http \{\n", "http {\n" + temp_paths.replace("\\", "\\\\")),
    ]
    text = template
    for pattern, replacement in swaps:
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        assert count == 1, f"{pattern!r} matched {count} times in {NGINX_CONF}"
    return text


@dataclass
class Proxy:
    url: str
    port: int
    backend_ports: list[int]
    access_log: Path

    def log_entries(self) -> list[dict[str, object]]:
        lines = self.access_log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def entries_for(self, request_ids: set[str]) -> list[dict[str, object]]:
        """Access log entries of these requests, waiting briefly: nginx logs after it answers."""
        deadline = time.monotonic() + 5.0
        while True:
            entries = [e for e in self.log_entries() if e["request_id"] in request_ids]
            if len(entries) >= len(request_ids) or time.monotonic() > deadline:
                return entries
            time.sleep(0.05)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    if not SERVICE.exists():
        pytest.fail(f"{SERVICE} is missing: install the project (make .venv/.installed)")
    work = tmp_path_factory.mktemp("nginx")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        backend_ports = [free_port(), free_port()]
        backends = []
        for index, port in enumerate(backend_ports):
            log = work / f"service-{index}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(SERVICE), "serve", "--host", "127.0.0.1", "--port", str(port)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=work,
                )
            processes.append(process)
            backends.append((f"http://127.0.0.1:{port}/healthz", process, log))
        for url, process, log in backends:
            wait_for(url, process, log)

        listen_port = free_port()
        temp_dir = work / "temp"
        temp_dir.mkdir()
        conf = work / "nginx.conf"
        conf.write_text(
            render_nginx_conf(
                NGINX_CONF.read_text(),
                listen_port=listen_port,
                backend_ports=backend_ports,
                temp_dir=temp_dir,
            )
        )
        globals_ = f"daemon off; pid {work / 'nginx.pid'};"
        if os.geteuid() == 0:
            # Workers would drop to nobody, who cannot enter pytest's private temporary folder.
            globals_ += " user root root;"
        access_log = work / "nginx-access.log"
        error_log = work / "nginx-error.log"
        with access_log.open("wb") as out, error_log.open("wb") as err:
            checked = subprocess.run(
                [NGINX, "-t", "-q", "-p", str(work), "-c", str(conf), "-g", globals_],
                stdout=out,
                stderr=err,
                timeout=10,
                check=False,
            )
            assert checked.returncode == 0, error_log.read_text()
            nginx = subprocess.Popen(
                [NGINX, "-p", str(work), "-c", str(conf), "-g", globals_],
                stdout=out,
                stderr=err,
            )
        processes.append(nginx)
        url = f"http://127.0.0.1:{listen_port}"
        wait_for(f"{url}/healthz", nginx, error_log)
        yield Proxy(url, listen_port, backend_ports, access_log)
    finally:
        for process in reversed(processes):
            stop(process)


def post_mse(url: str, request_id: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/losses/mse",
        json=MSE_REQUEST,
        headers={"X-Request-ID": request_id},
        timeout=10.0,
    )


def test_requests_reach_both_backends(proxy: Proxy) -> None:
    request_ids = {f"test-{uuid.uuid4().hex}" for _ in range(12)}
    for request_id in request_ids:
        response = post_mse(proxy.url, request_id)
        assert response.status_code == 200, response.text
        assert response.json()["value"] == pytest.approx(4.0 / 3.0)

    entries = proxy.entries_for(request_ids)
    assert len(entries) == len(request_ids)
    served_by = {str(entry["upstream_addr"]) for entry in entries}
    assert served_by == {f"127.0.0.1:{port}" for port in proxy.backend_ports}


def test_request_id_is_passed_through_or_generated(proxy: Proxy) -> None:
    # The service echoes the X-Request-ID it receives, so the response shows what nginx sent on.
    mine = f"test-{uuid.uuid4().hex}"
    response = post_mse(proxy.url, mine)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == mine
    assert [entry["request_id"] for entry in proxy.entries_for({mine})] == [mine]

    # A missing id, or one that could break a log line or a JSON body, is replaced by nginx's own
    # $request_id: the one in nginx's log is the one the service got and echoed.
    for headers in ({}, {"X-Request-ID": 'a" b'}):
        response = httpx.get(f"{proxy.url}/healthz", headers=headers, timeout=10.0)
        assert response.status_code == 200
        generated = response.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", generated)
        [entry] = proxy.entries_for({generated})
        assert entry["uri"] == "/healthz"


def test_metrics_are_not_served_through_the_proxy(proxy: Proxy) -> None:
    response = httpx.get(f"{proxy.url}/metrics", timeout=10.0)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404
    # Each replica serves its own.
    direct = httpx.get(f"http://127.0.0.1:{proxy.backend_ports[0]}/metrics", timeout=10.0)
    assert direct.status_code == 200


def read_response_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_oversized_body_gets_413_from_nginx(proxy: Proxy) -> None:
    request_id = f"test-{uuid.uuid4().hex}"
    head = (
        "POST /v1/losses/mse HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{proxy.port}\r\n"
        "Content-Type: application/json\r\n"
        f"X-Request-ID: {request_id}\r\n"
        f"Content-Length: {MAX_BODY_BYTES + 1}\r\n"
        "\r\n"
    )
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        # Only the head: nginx must answer from the declared length without reading a byte of it.
        sock.sendall(head.encode())
        sock.settimeout(5)
        data = read_response_head(sock)
        header_block, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in header_lines)
        while len(body) < int(headers["Content-Length"]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk

    assert status_line.startswith("HTTP/1.1 413 "), status_line
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 413
    assert problem["request_id"] == request_id
    [entry] = proxy.entries_for({request_id})
    assert entry["status"] == 413
    assert entry["upstream_addr"] == "", "the request must not have been forwarded"


def test_a_body_under_the_limit_passes(proxy: Proxy) -> None:
    # 2^16 samples as a JSON body, larger than nginx's in-memory body buffer.
    count = 2**16
    response = httpx.post(
        f"{proxy.url}/v1/losses/mse",
        json={"predictions": [0.5] * count, "targets": [0.0] * count, "gradient": False},
        timeout=10.0,
    )
    assert response.status_code == 200, response.text
    assert response.json()["value"] == pytest.approx(0.25)


def timed_out_entries(proxy: Proxy) -> list[dict[str, object]]:
    return [entry for entry in proxy.log_entries() if entry["status"] == 408]


def test_slow_header_client_is_cut_off_while_others_are_served(proxy: Proxy) -> None:
    timed_out_before = len(timed_out_entries(proxy))
    served = 0
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as slow:
        started = time.monotonic()
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: slowloris\r\n")
        slow.setblocking(False)
        closed_after = None
        # One header byte every 0.1 s: each read is quick, the whole header never arrives.
        while time.monotonic() - started < HEADER_TIMEOUT_S + 5:
            try:
                if slow.recv(65536) == b"":
                    closed_after = time.monotonic() - started
                    break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed_after = time.monotonic() - started
                break
            try:
                slow.send(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            # Meanwhile another client is served as usual.
            request_started = time.monotonic()
            response = post_mse(proxy.url, f"test-{uuid.uuid4().hex}")
            assert response.status_code == 200, response.text
            assert time.monotonic() - request_started < 1.0
            served += 1
            time.sleep(0.1)

    assert closed_after is not None, "nginx kept a client that never finished its header"
    assert HEADER_TIMEOUT_S * 0.9 <= closed_after < HEADER_TIMEOUT_S + 2
    assert served >= 5
    # nginx's own verdict: 408 for the request whose header never completed.
    deadline = time.monotonic() + 5.0
    while len(timed_out_entries(proxy)) == timed_out_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(timed_out_entries(proxy)) == timed_out_before + 1
