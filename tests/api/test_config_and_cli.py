"""Settings from the environment, and the `loss-service` command."""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
from typing import Any

import orjson
import pytest

from service.cli import main
from service.config import Settings
from service.losses import LOSSES
from service.malloc import MALLOC_SETTINGS


def test_defaults() -> None:
    settings = Settings()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.max_body_bytes == 128 * 2**20
    assert settings.max_elements == 2**24
    assert settings.api_keys == ()
    assert (settings.log_level, settings.log_format) == ("info", "json")


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSS_SERVICE_PORT", "9001")
    monkeypatch.setenv("LOSS_SERVICE_MAX_BODY_BYTES", "1024")
    monkeypatch.setenv("LOSS_SERVICE_MAX_ELEMENTS", "10")
    monkeypatch.setenv("LOSS_SERVICE_API_KEYS", "one, two")
    monkeypatch.setenv("LOSS_SERVICE_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("LOSS_SERVICE_LOG_FORMAT", "text")
    settings = Settings()
    assert settings.port == 9001
    assert settings.max_body_bytes == 1024
    assert settings.max_elements == 10
    assert settings.api_keys == ("one", "two")
    assert (settings.log_level, settings.log_format) == ("debug", "text")
    monkeypatch.setenv("LOSS_SERVICE_API_KEYS", '["a,b"]')
    assert Settings().api_keys == ("a,b",)


def test_invalid_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOSS_SERVICE_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()


def test_cli_openapi_prints_sorted_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi"]) == 0
    out = capsys.readouterr().out
    spec = orjson.loads(out)
    assert spec["openapi"].startswith("3.1")
    assert out.startswith('{\n  "components"')
    assert out.endswith("}\n")


def test_cli_losses_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["losses"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["loss", "aliases", "task"]
    assert len(lines) == 2 + len(LOSSES)
    huber = next(line for line in lines if line.startswith("huber "))
    assert "delta=1.0 (> 0)" in huber


def test_cli_needs_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([])


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_losses_table_survives_a_closed_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    # `loss-service losses | head -1`: the reader leaves early; exit 0 rather than a traceback.
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["losses"]) == 0


def _tune_in_subprocess(env: dict[str, str]) -> dict[str, Any]:
    code = (
        "import json, os; from service.malloc import MALLOC_SETTINGS, tune_malloc; "
        "applied = tune_malloc(); "
        "print(json.dumps({'applied': applied, "
        "'env': {name: os.environ.get(name) for name, _, _ in MALLOC_SETTINGS}}))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = orjson.loads(completed.stdout)
    return result


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc settings")
def test_serve_tunes_malloc_unless_the_operator_set_it() -> None:
    names = [name for name, _, _ in MALLOC_SETTINGS]
    env = {key: value for key, value in os.environ.items() if key not in names}
    # Applied through mallopt in this process, and passed on to the workers uvicorn starts.
    tuned = _tune_in_subprocess(env)
    assert tuned["applied"] == dict.fromkeys(names, True)
    assert tuned["env"] == {
        "MALLOC_ARENA_MAX": "1",
        "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20),
        "MALLOC_TRIM_THRESHOLD_": str(256 * 2**20),
    }
    own = _tune_in_subprocess({**env, "MALLOC_ARENA_MAX": "4", "MALLOC_TRIM_THRESHOLD_": "0"})
    assert own["applied"]["MALLOC_ARENA_MAX"] is False
    assert own["applied"]["MALLOC_TRIM_THRESHOLD_"] is False
    assert own["env"]["MALLOC_ARENA_MAX"] == "4"
    assert own["env"]["MALLOC_TRIM_THRESHOLD_"] == "0"
    assert own["applied"]["MALLOC_MMAP_THRESHOLD_"] is True
