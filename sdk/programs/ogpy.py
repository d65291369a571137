"""A user's program against the client openapi-generator's `python` generator makes."""

import sys

from loss_client import (
    ApiClient,
    Configuration,
    EvaluateApi,
    EvaluateRequest,
    HuberRequest,
    LossesApi,
    LossesInner,
    MeanAbsoluteErrorTerm,
    MeanSquaredErrorTerm,
    MulticlassApi,
    OperationsApi,
    RegressionApi,
    ZeroOneRequest,
)
from loss_client.exceptions import NotFoundException

with ApiClient(Configuration(host=sys.argv[1])) as api_client:
    losses = LossesApi(api_client)
    regression = RegressionApi(api_client)
    predictions = [2.5, 0.0, 2.0, 8.0]
    targets = [3.0, -0.5, 2.0, 7.0]
    answer = regression.huber(HuberRequest(predictions=predictions, targets=targets))
    # value is null for reduction="none"; the gradient is absent when not asked for.
    assert answer.value is not None and answer.gradient is not None
    print("huber", answer.value + 1, answer.gradient[0])
    assert answer.value == 0.1875

    wide = regression.huber(HuberRequest(predictions=[1.0, 5.0], targets=[0.0, 0.0], delta=2.0))
    assert wide.value == (0.5 + 2.0 * (5.0 - 1.0)) / 2

    labels = MulticlassApi(api_client).zero_one(
        ZeroOneRequest(predictions=[0.9, 0.2, 0.6, 0.4], targets=[1.0, 0.0, 0.0, 0.0])
    )
    assert labels.value == 0.25 and labels.gradient is None

    both = EvaluateApi(api_client).evaluate(
        EvaluateRequest(
            predictions=[0.2, 0.4],
            targets=[0.0, 1.0],
            # Each term goes in the generator's wrapper of a oneOf (the losses of one request
            # are of different types).
            losses=[
                LossesInner(MeanSquaredErrorTerm(name="mse")),
                LossesInner(MeanAbsoluteErrorTerm(name="mae", weight=0.5)),
            ],
        )
    )
    assert both.total.value is not None
    assert abs(both.total.value - ((0.04 + 0.36) / 2 + 0.5 * (0.2 + 0.6) / 2)) < 1e-12

    try:
        losses.get_loss("hubber")
        raise AssertionError("an unknown loss answered")
    except NotFoundException as error:
        assert error.status == 404 and error.body is not None and "huber" in error.body

    catalogue = losses.list_losses()
    assert len(catalogue.losses) >= 31
    assert losses.get_loss("mse").name == "mean_squared_error"
    assert OperationsApi(api_client).healthz().status == "ok"
print("ogpy: all good")
