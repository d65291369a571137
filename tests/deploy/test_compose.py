"""docker-compose.yml passes every setting through to the service, except the address it listens
on, which the image fixes (its port is published instead)."""

from __future__ import annotations

from pathlib import Path

import yaml

from service.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
FIXED_IN_THE_IMAGE = {"host", "port"}


def test_compose_passes_every_setting_through() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    passed = compose["x-loss-service"]["environment"]
    expected = [
        f"{ENV_PREFIX}{name.upper()}"
        for name in Settings.model_fields
        if name not in FIXED_IN_THE_IMAGE
    ]
    assert sorted(passed) == sorted(expected)
