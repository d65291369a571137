"""An SDK generated from the committed openapi.json by openapi-python-client works against the
live server: a regression loss, a classification loss with logits, evaluate, and a problem."""

from __future__ import annotations

import importlib
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "loss_service_sdk"


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert generator, "openapi-python-client is a dev dependency: make .venv/.installed"
    out = tmp_path_factory.mktemp("sdk")
    config = out / "config.yml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    subprocess.run(
        [
            generator,
            "generate",
            "--path",
            str(ROOT / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(out / PACKAGE),
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    sys.path.insert(0, str(out))
    try:
        names = ["", ".api.regression.huber", ".api.binary.binary_cross_entropy"]
        names += [".api.evaluate.evaluate", ".api.losses.get_loss", ".models"]
        yield {name: importlib.import_module(PACKAGE + name) for name in names}
    finally:
        sys.path.remove(str(out))
        for module in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[module]


def test_generated_client_calls_a_regression_loss(sdk: dict[str, Any], server: str) -> None:
    models = sdk[".models"]
    with sdk[""].Client(base_url=server) as client:
        body = models.HuberRequest(
            predictions=[0.0, 3.0], targets=[0.0, 0.0], delta=2.0, gradient=True
        )
        result = sdk[".api.regression.huber"].sync(client=client, body=body)
    assert isinstance(result, models.LossResponse)
    assert result.loss == "huber"
    assert result.value == pytest.approx(2.0)
    assert result.gradient == [0.0, 1.0]
    assert result.count == 2


def test_generated_client_calls_a_classification_loss_with_logits(
    sdk: dict[str, Any], server: str
) -> None:
    models = sdk[".models"]
    with sdk[""].Client(base_url=server) as client:
        body = models.BinaryCrossEntropyRequest(
            predictions=[0.0, 2.0], targets=[1.0, 1.0], from_logits=True
        )
        result = sdk[".api.binary.binary_cross_entropy"].sync(client=client, body=body)
    assert isinstance(result, models.LossResponse)
    expected = (math.log(2.0) + math.log1p(math.exp(-2.0))) / 2
    assert result.value == pytest.approx(expected)


def test_generated_client_evaluates_a_composite_objective(sdk: dict[str, Any], server: str) -> None:
    models = sdk[".models"]
    body = models.EvaluateRequest(
        predictions=[[0.9, 0.1], [0.2, 0.7]],
        targets=[[1.0, 0.0], [0.0, 1.0]],
        losses=[
            models.BinaryCrossEntropyTerm(name="binary_cross_entropy", weight=0.7),
            models.DiceTerm(name="dice", weight=0.3, smooth=1.0),
        ],
    )
    with sdk[""].Client(base_url=server) as client:
        result = sdk[".api.evaluate.evaluate"].sync(client=client, body=body)
    assert isinstance(result, models.EvaluateResponse)
    assert [item.loss for item in result.results] == ["binary_cross_entropy", "dice"]
    weighted = sum(item.weight * item.value for item in result.results)
    assert result.total.value == pytest.approx(weighted)


def test_generated_client_returns_problems(sdk: dict[str, Any], server: str) -> None:
    models = sdk[".models"]
    with sdk[""].Client(base_url=server) as client:
        body = models.HuberRequest(predictions=[1.0, 2.0], targets=[1.0])
        problem = sdk[".api.regression.huber"].sync(client=client, body=body)
        missing = sdk[".api.losses.get_loss"].sync("hubr", client=client)
    assert isinstance(problem, models.Problem)
    assert problem.status == 422
    assert "(2,)" in problem.detail
    assert isinstance(missing, models.Problem)
    assert missing.status == 404
    assert "huber" in missing.detail
