"""The README's curl examples, run against the live server: each answer must be the one shown."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
# A ```sh block holding one curl command, followed by the ```json block of its answer.
EXAMPLE = re.compile(r"```sh\n(curl [^`]*?)```\n```json\n([^`]*?)```", re.DOTALL)
EXAMPLES = EXAMPLE.findall(README.read_text())
README_ADDRESS = "http://127.0.0.1:8000"


def test_the_readme_has_its_examples() -> None:
    # a regression loss, logits, evaluate, groups, a typed array, an error
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize(("command", "answer"), EXAMPLES, ids=[c[:60] for c, _ in EXAMPLES])
def test_curl_example_answers_as_documented(server: str, command: str, answer: str) -> None:
    assert shutil.which("curl"), "curl is needed to run the README's examples"
    assert README_ADDRESS in command
    live = command.replace(README_ADDRESS, server)
    completed = subprocess.run(
        ["bash", "-c", live], capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(completed.stdout) == json.loads(answer)
