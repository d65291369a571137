"""A user's program against the client openapi-python-client generates (its package name:
`loss_service_client`, from the spec's title)."""

import sys

from loss_service_client.api.evaluate import evaluate
from loss_service_client.api.losses import get_loss, list_losses
from loss_service_client.api.multiclass import zero_one
from loss_service_client.api.operations import healthz
from loss_service_client.api.regression import huber
from loss_service_client.client import Client
from loss_service_client.models import (
    EvaluateRequest,
    EvaluateResponse,
    HuberRequest,
    LossCatalogue,
    LossEntry,
    LossResponse,
    MeanAbsoluteErrorTerm,
    MeanSquaredErrorTerm,
    Problem,
    ZeroOneRequest,
)

client = Client(base_url=sys.argv[1])

predictions = [2.5, 0.0, 2.0, 8.0]
targets = [3.0, -0.5, 2.0, 7.0]
answer = huber.sync(client=client, body=HuberRequest(predictions=predictions, targets=targets))
assert isinstance(answer, LossResponse), answer
# value is null for reduction="none"; the gradient is absent when not asked for.
assert answer.value is not None and isinstance(answer.gradient, list)
print("huber", answer.value + 1, answer.gradient[0])
assert answer.value == 0.1875

wide = huber.sync(
    client=client, body=HuberRequest(predictions=[1.0, 5.0], targets=[0.0, 0.0], delta=2.0)
)
assert isinstance(wide, LossResponse)
assert wide.value == (0.5 + 2.0 * (5.0 - 1.0)) / 2

labels = zero_one.sync(
    client=client,
    body=ZeroOneRequest(predictions=[0.9, 0.2, 0.6, 0.4], targets=[1.0, 0.0, 0.0, 0.0]),
)
assert isinstance(labels, LossResponse)
assert labels.value == 0.25 and labels.gradient is None

both = evaluate.sync(
    client=client,
    body=EvaluateRequest(
        predictions=[0.2, 0.4],
        targets=[0.0, 1.0],
        losses=[MeanSquaredErrorTerm(name="mse"), MeanAbsoluteErrorTerm(name="mae", weight=0.5)],
    ),
)
assert isinstance(both, EvaluateResponse) and both.total.value is not None
assert abs(both.total.value - ((0.04 + 0.36) / 2 + 0.5 * (0.2 + 0.6) / 2)) < 1e-12

unknown = get_loss.sync(client=client, name="hubber")
assert isinstance(unknown, Problem) and unknown.status == 404 and "huber" in unknown.detail

catalogue = list_losses.sync(client=client)
assert isinstance(catalogue, LossCatalogue)
entry = get_loss.sync(client=client, name="mse")
assert isinstance(entry, LossEntry) and entry.name == "mean_squared_error"
assert len(catalogue.losses) >= 31
health = healthz.sync(client=client)
assert health is not None and health.status == "ok"
print("opc: all good")
