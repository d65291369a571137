"""Errors of the wire layer: a body or an array that cannot be read, each with its HTTP status.

    WireError (ValueError)
    ├── MalformedBodyError         400: not valid JSON, a broken gzip stream
    ├── UnsupportedMediaTypeError  415: a Content-Type or Content-Encoding we do not read
    ├── BodyTooLargeError          413: more bytes than max_body_bytes (after decompression too)
    ├── TooManyElementsError       413: more array elements than max_elements, or more work
    ├── LimitError                 422: a body shaped past a limit: keys per object, nesting
    │                                   depth, array dimensions, group keys
    ├── NumberRangeError           422: a JSON number beyond float64's range
    └── ArrayFormatError           422: an array field that is not a rectangular array of numbers,
                                        or a typed array whose dtype, shape and bytes disagree

`loc` is where in the request the error lies, e.g. ("body", "predictions", "data"); the API turns
each error into one problem+json response.
"""

from __future__ import annotations

__all__ = [
    "ArrayFormatError",
    "BodyTooLargeError",
    "LimitError",
    "MalformedBodyError",
    "NumberRangeError",
    "TooManyElementsError",
    "UnsupportedMediaTypeError",
    "WireError",
]


class WireError(ValueError):
    """A request body that the wire layer cannot turn into a document and numpy arrays."""

    status = 400

    def __init__(self, message: str, *, loc: tuple[str | int, ...] = ("body",)) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


class MalformedBodyError(WireError):
    """The body is not valid in its declared format (JSON syntax, gzip stream)."""

    status = 400


class UnsupportedMediaTypeError(WireError):
    """The Content-Type or Content-Encoding is not one the service reads."""

    status = 415


class BodyTooLargeError(WireError):
    """The body, or its decompressed form, is larger than max_body_bytes."""

    status = 413


class TooManyElementsError(WireError):
    """The arrays of a request hold more elements than max_elements."""

    status = 413


class ArrayFormatError(WireError):
    """An array field is not an array of numbers, or a typed array is inconsistent."""

    status = 422


class LimitError(WireError):
    """A request shaped past one of the service's limits (its message names the setting)."""

    status = 422


class NumberRangeError(WireError):
    """A number in the body that float64 cannot hold (it would be infinity)."""

    status = 422
