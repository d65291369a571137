"""The `loss-service` command: serve the API, print the OpenAPI spec, list losses, score files."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from types import FrameType

import orjson

from .config import Settings
from .malloc import tune_malloc
from .score_cli import add_score_command

__all__ = ["main"]

# prometheus-client's multiprocess mode; the same name as service.api.metrics.MULTIPROCESS_ENV,
# spelled out so that the parent process need not import prometheus-client before setting it.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def metrics_directory(workers: int) -> Iterator[str | None]:
    """With several workers, a fresh PROMETHEUS_MULTIPROC_DIR for their metric files, set before
    any worker starts (each reads it when it imports prometheus-client) and removed at exit.

    A directory the operator set already is used as it is and left in place.
    """
    if workers <= 1 or os.environ.get(MULTIPROCESS_ENV):
        yield os.environ.get(MULTIPROCESS_ENV)
        return
    directory = tempfile.mkdtemp(prefix="loss-service-metrics-")
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield directory
    finally:
        del os.environ[MULTIPROCESS_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """SIGTERM outside uvicorn's own handling: before the server starts, or re-raised by uvicorn
    once its graceful shutdown is over. Either way the process ends with status 0 (a stop that
    was asked for), not killed by the signal, and the `finally` blocks run, then atexit's
    logging.shutdown, which writes the log lines still kept (service.logs)."""
    raise SystemExit(0)


def _serve(args: argparse.Namespace) -> int:
    settings = Settings()
    workers = args.workers or settings.workers
    signal.signal(signal.SIGTERM, _exit_cleanly)
    tune_malloc()
    with metrics_directory(workers):
        import uvicorn
        from uvicorn.config import STARTUP_FAILURE

        from .logs import logging_config
        from .server import BoundedHttpToolsProtocol, Supervisor

        config = uvicorn.Config(
            # An import string and a factory: each worker process builds its own app from the
            # environment's settings.
            "service.api:create_app",
            factory=True,
            # httptools with request headers bounded in size and time (service/server.py).
            http=BoundedHttpToolsProtocol,
            host=args.host or settings.host,
            port=args.port if args.port is not None else settings.port,
            workers=workers,
            # After SIGTERM: stop accepting, give the requests in flight this long, then exit.
            timeout_graceful_shutdown=settings.shutdown_timeout,
            timeout_keep_alive=settings.keep_alive_timeout,
            log_config=logging_config(settings),
            log_level=settings.log_level,
            access_log=False,  # the service logs each request itself, with its request id
            proxy_headers=False,
            server_header=False,
        )
        if workers > 1:
            # As uvicorn.run runs workers, with a supervisor that stops listening at the
            # shutdown (service/server.py); it replaces any worker that dies.
            Supervisor(config, sockets=[config.bind_socket()]).run()
            return 0
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            return STARTUP_FAILURE
    return 0


def _openapi(_: argparse.Namespace) -> int:
    from .api import create_app

    spec = create_app(Settings(api_keys=())).openapi()
    sys.stdout.buffer.write(orjson.dumps(spec, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    sys.stdout.buffer.write(b"\n")
    return 0


def _default_text(value: object) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _losses(_: argparse.Namespace) -> int:
    from .losses import LOSSES

    rows = [("loss", "aliases", "task", "parameters", "reductions", "gradient")]
    for spec in LOSSES.values():
        params = ", ".join(
            f"{param.name}={_default_text(param.default)}"
            + (f" ({param.bounds_text()})" if param.bounds_text() else "")
            for param in spec.params
        )
        rows.append(
            (
                spec.name,
                ", ".join(spec.aliases),
                spec.task,
                params,
                "/".join(spec.reductions),
                "yes" if spec.differentiable else "no",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for position, row in enumerate(rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
        if position == 0:
            print("  ".join("-" * width for width in widths))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of workers >= 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loss-service",
        description="Loss values and gradients over HTTP. Settings come from LOSS_SERVICE_* "
        "environment variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", help="address to bind (default LOSS_SERVICE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default LOSS_SERVICE_PORT or 8000)")
    serve.add_argument(
        "--workers",
        type=_positive,
        help="worker processes, supervised and replaced if one dies (default "
        "LOSS_SERVICE_WORKERS or 1)",
    )
    serve.set_defaults(run=_serve)
    openapi = commands.add_parser("openapi", help="print the OpenAPI spec as JSON")
    openapi.set_defaults(run=_openapi)
    losses = commands.add_parser("losses", help="list the losses as a table")
    losses.set_defaults(run=_losses)
    add_score_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `loss-service` console script."""
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        # The reader went away (`loss-service losses | head`): not an error of ours. Point
        # stdout at /dev/null so that the interpreter's final flush does not fail again.
        with contextlib.suppress(OSError, ValueError):
            stdout = sys.stdout.fileno()
            os.dup2(os.open(os.devnull, os.O_WRONLY), stdout)
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(main())
