"""Settings: LOSS_SERVICE_* with pydantic-settings, the README's table made from them, keys kept
out of reprs and errors; and what `loss-service serve` sets up around uvicorn."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from service.cli import MULTIPROCESS_ENV, main, metrics_directory
from service.config import Settings, settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_shutdown_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().shutdown_timeout == 30
    monkeypatch.setenv("LOSS_SERVICE_SHUTDOWN_TIMEOUT", "5")
    assert Settings().shutdown_timeout == 5
    monkeypatch.setenv("LOSS_SERVICE_SHUTDOWN_TIMEOUT", "-1")
    with pytest.raises(ValueError, match="shutdown_timeout"):
        Settings()


def test_every_setting_is_documented_in_the_readme_table() -> None:
    text = README.read_text()
    start = text.index("<!-- settings:start -->\n") + len("<!-- settings:start -->\n")
    end = text.index("<!-- settings:end -->")
    assert text[start:end] == settings_table(), (
        "README settings table is stale: replace it with service.config.settings_table()"
    )
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"`LOSS_SERVICE_{name.upper()}`" in settings_table()


def test_keys_stay_out_of_reprs_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(api_keys=("hunter2-key", "other-key"))
    assert settings.api_keys == ("hunter2-key", "other-key")
    for text in (repr(settings), str(settings)):
        assert "hunter2" not in text
        assert "<2 keys>" in text
    monkeypatch.setenv("LOSS_SERVICE_API_KEYS", '["hunter2-key", ')
    with pytest.raises(ValueError, match="JSON list of strings") as error:
        Settings()
    assert "hunter2" not in str(error.value)
    monkeypatch.setenv("LOSS_SERVICE_API_KEYS", "[1, 2]")
    with pytest.raises(ValueError, match="JSON list of strings"):
        Settings()


def test_one_worker_needs_no_metrics_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MULTIPROCESS_ENV, raising=False)
    with metrics_directory(1) as directory:
        assert directory is None
        assert MULTIPROCESS_ENV not in os.environ


def test_workers_get_a_fresh_metrics_directory_removed_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROCESS_ENV, raising=False)
    with metrics_directory(3) as directory:
        assert directory is not None
        assert os.environ[MULTIPROCESS_ENV] == directory
        assert not os.listdir(directory)
        Path(directory, "counter_1.db").write_bytes(b"")
    assert not Path(directory).exists()
    assert MULTIPROCESS_ENV not in os.environ


def test_an_operators_metrics_directory_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(MULTIPROCESS_ENV, str(tmp_path))
    with metrics_directory(2) as directory:
        assert directory == str(tmp_path)
    assert tmp_path.is_dir()
    assert os.environ[MULTIPROCESS_ENV] == str(tmp_path)


def test_serve_refuses_fewer_than_one_worker(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])
    assert "expected a number of workers >= 1, got 0" in capsys.readouterr().err


def test_serve_hands_the_timeouts_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from service.cli import main

    captured: dict[str, object] = {}

    def run(server: uvicorn.Server, sockets: object = None) -> None:
        captured.update(vars(server.config))
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setenv("LOSS_SERVICE_KEEP_ALIVE_TIMEOUT", "90")
    monkeypatch.setenv("LOSS_SERVICE_SHUTDOWN_TIMEOUT", "7")
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert main(["serve", "--port", "0"]) == 0
    finally:
        signal.signal(signal.SIGTERM, previous)  # serve installs its own SIGTERM handler
    # Longer than nginx's 60 s upstream keep-alive by default; the proxy closes idle connections.
    assert Settings().keep_alive_timeout == 90
    assert captured["timeout_keep_alive"] == 90
    assert captured["timeout_graceful_shutdown"] == 7
    monkeypatch.delenv("LOSS_SERVICE_KEEP_ALIVE_TIMEOUT")
    assert Settings().keep_alive_timeout == 75
