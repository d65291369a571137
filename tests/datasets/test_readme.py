"""The README's Datasets section, run as a user would: its Python examples in a fresh folder, then
its command, whose output must be the one shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
TEXT = README.read_text()
SECTION = TEXT[TEXT.index("## Datasets") : TEXT.index("## Losses")]
PYTHON = re.findall(r"```python\n(.*?)```", SECTION, re.DOTALL)
COMMANDS = re.findall(r"```sh\n(loss-service score .*?)```\n```text\n(.*?)```", SECTION, re.DOTALL)


def test_the_section_has_its_examples() -> None:
    assert len(PYTHON) == 2  # tables and files; Dask
    assert len(COMMANDS) == 1


def test_the_examples_run_and_the_command_answers_as_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "example.py"
    # One script, run by a fresh interpreter: a LocalCluster's workers import its __main__.
    body = "\n".join(PYTHON)
    script.write_text(
        "def main():\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
        + "\n\nif __name__ == '__main__':\n    main()\n"
    )
    completed = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    binary = Path(sys.executable).parent / "loss-service"
    for command, shown in COMMANDS:
        line = command.replace("\\\n", " ").replace("loss-service", str(binary), 1)
        result = subprocess.run(
            line,
            shell=True,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=tmp_path,
            env={**os.environ, "COLUMNS": "100"},
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == shown
        assert (tmp_path / "segments.csv").read_text().startswith('"segment","model","region"')
