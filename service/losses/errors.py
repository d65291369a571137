"""The loss core's error hierarchy: every bad input raises one of these.

    LossError (ValueError)
    ├── UnknownLossError      no loss has that name, alias or framework name
    ├── ShapeError            an array has the wrong number of dimensions or disagrees in shape
    ├── NonFiniteError        NaN or infinity where nan_policy does not allow it
    ├── DomainError           a value outside the loss's domain (probability, label, simplex row)
    ├── ParameterError        a loss parameter is unknown, of the wrong type or out of bounds
    ├── ReductionError        the loss does not support the reduction asked for
    └── ResultOverflowError   the result does not fit in float64

Each error carries the request field it is about, the index of the first offending element
(a tuple, or None when the error is about the field as a whole) and the offending value, so that
the HTTP layer can name all three without parsing the message. The core never raises HTTP errors.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DomainError",
    "LossError",
    "NonFiniteError",
    "ParameterError",
    "ReductionError",
    "ResultOverflowError",
    "ShapeError",
    "UnknownLossError",
]


class LossError(ValueError):
    """Base of every error the loss core raises for bad input."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        index: tuple[int, ...] | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.index = index
        self.value = value


class UnknownLossError(LossError):
    """No loss is registered under that name; `suggestions` are the closest canonical names,
    and `instead` says what computes the function the name means elsewhere (PyTorch's
    cross_entropy), when it means one."""

    def __init__(self, name: str, suggestions: list[str], *, instead: str | None = None) -> None:
        if instead is not None:
            message = f"unknown loss {name!r}: {instead}"
        elif suggestions:
            message = f"unknown loss {name!r}; did you mean {', '.join(suggestions)}?"
        else:
            message = f"unknown loss {name!r}"
        super().__init__(message, field="name", value=name)
        self.suggestions = suggestions
        self.instead = instead


class ShapeError(LossError):
    """An array has the wrong number of dimensions, or two arrays disagree in shape."""


class NonFiniteError(LossError):
    """An input holds NaN or infinity where the NaN policy does not allow it."""


class DomainError(LossError):
    """An input value lies outside the loss's domain."""


class ParameterError(LossError):
    """A loss parameter is unknown, of the wrong type, or outside its bounds."""


class ReductionError(LossError):
    """The loss does not support the requested reduction."""


class ResultOverflowError(LossError):
    """The loss value or its gradient overflows float64."""
