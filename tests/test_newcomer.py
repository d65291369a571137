"""A newcomer's first hour: what `make` says while it builds, what it says when it cannot install
a package, and documentation that stands on its own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_first_build_says_what_it_is_doing() -> None:
    plan = subprocess.run(
        ["make", "--dry-run", "--always-make", ".venv/.installed"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "building the environment in .venv" in plan
    install = next(line for line in plan.splitlines() if "-r requirements/dev.lock" in line)
    # pip's own progress is shown: the install is not silenced.
    assert "--quiet" not in install


def test_a_missing_package_that_cannot_be_installed_is_one_clear_line(tmp_path: Path) -> None:
    # A machine without apt-get: bash and the coreutils the script needs, nothing else.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id", "mktemp", "rm"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    completed = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "deploy" / "ensure-debian-packages.sh"), "nosuch=pkg"],
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert "pkg" in lines[0]
    assert "no apt-get" in lines[0]
    assert "apt-get install pkg" in lines[0]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_documentation_stands_on_its_own(page: Path) -> None:
    """Every relative link leads to a file of the repository, and nothing points to the contract
    kept outside it."""
    text = page.read_text()
    assert "SPEC.md" not in text
    assert "shared folder" not in text
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).exists(), (page.name, target)


def test_the_readme_says_how_to_pick_the_port_and_what_make_test_installs() -> None:
    text = (ROOT / "README.md").read_text()
    assert "LOSS_SERVICE_PORT=9000 make serve" in text
    assert "apt-get" in text
    assert len(text.encode()) < 40_000
