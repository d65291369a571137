"""The loss core: vectorized numpy losses with their gradients, reductions and one registry.

Pure numpy: nothing here knows of HTTP. `evaluate` is the one entry point, for the API and for
in-process users; `LOSSES` is the registry every other part of the service reads.
"""

from .errors import (
    DomainError,
    LossError,
    NonFiniteError,
    ParameterError,
    ReductionError,
    ResultOverflowError,
    ShapeError,
    UnknownLossError,
)
from .evaluate import CompositeResult, LossResult, Regularization, evaluate, evaluate_many
from .params import Param
from .reduce import Group
from .registry import LOSSES, REDUCTIONS, LossSpec, get_loss, loss_names

__all__ = [
    "LOSSES",
    "REDUCTIONS",
    "CompositeResult",
    "DomainError",
    "Group",
    "LossError",
    "LossResult",
    "LossSpec",
    "NonFiniteError",
    "Param",
    "ParameterError",
    "ReductionError",
    "Regularization",
    "ResultOverflowError",
    "ShapeError",
    "UnknownLossError",
    "evaluate",
    "evaluate_many",
    "get_loss",
    "loss_names",
]
