"""Plain MessagePack arrays of float 64 read by numpy (service/wire/fastmsgpack.py): the same
document as msgpack.unpackb, with the number fields as float64 arrays, whatever the body holds."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import pytest

from service.api.compute import NUMBER_ARRAYS
from service.wire import MSGPACK, Decoding
from service.wire.fastmsgpack import decode_number_arrays

RNG = np.random.default_rng(7)
ONE_D = RNG.normal(size=5000)
TWO_D = RNG.normal(size=(1000, 7))


def assert_same(fast: dict[str, Any], expected: dict[str, Any]) -> None:
    assert fast.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(fast[key], np.ndarray):
            assert fast[key].dtype == np.float64
            np.testing.assert_array_equal(fast[key], np.asarray(value, dtype=np.float64))
        else:
            assert fast[key] == value, key


@pytest.mark.parametrize(
    ("document", "fast_fields"),
    [
        ({"predictions": ONE_D.tolist(), "targets": ONE_D.tolist(), "delta": 2.0}, 2),
        ({"predictions": TWO_D.tolist(), "targets": TWO_D.tolist()}, 2),
        ({"predictions": ONE_D.tolist(), "targets": [1] * 5000}, 1),  # ints stay msgpack's
        ({"predictions": [*ONE_D.tolist()[:-1], None], "targets": ONE_D.tolist()}, 1),
        ({"predictions": [*TWO_D.tolist()[:-1], [1.0]], "targets": TWO_D.tolist()}, 1),
        ({"predictions": ONE_D.tolist()[:10], "targets": ONE_D.tolist()[:10]}, 0),  # small
        ({"group_by": ["a"] * 5000, "predictions": ONE_D.tolist(), "extra": {"x": [1.5]}}, 1),
        ({"predictions": [0.5] * 70_000, "targets": [0.5] * 70_000}, 2),  # array 32 header
    ],
    ids=["1d", "2d", "int-targets", "null", "ragged", "small", "others", "array32"],
)
def test_the_document_is_msgpacks_own(document: dict[str, Any], fast_fields: int) -> None:
    body = msgpack.packb(document)
    fast = decode_number_arrays(body, NUMBER_ARRAYS)
    assert fast is not None
    assert sum(isinstance(value, np.ndarray) for value in fast.values()) == fast_fields
    assert_same(fast, msgpack.unpackb(body))


def _typed(
    values: np.ndarray[Any, Any], *, keys: tuple[str, ...] = ("dtype", "shape", "data")
) -> dict[str, Any]:
    fields = {"dtype": "float64", "shape": list(values.shape), "data": values.tobytes()}
    return {key: fields[key] for key in keys}


@pytest.mark.parametrize(
    "document",
    [
        {"predictions": _typed(ONE_D), "targets": _typed(ONE_D), "array_encoding": "base64"},
        # bin 8 (short), bin 16 and bin 32 lengths; keys in any order; nothing after the bin
        {"predictions": _typed(ONE_D[:3], keys=("data", "shape", "dtype")), "targets": [1.0]},
        {"targets": _typed(ONE_D[:4000], keys=("shape", "data", "dtype")), "delta": 2},
        {"predictions": _typed(TWO_D, keys=("dtype", "data")), "sample_weight": _typed(ONE_D)},
        # a typed array beside a plain number array, and an empty bin
        {"predictions": ONE_D.tolist(), "targets": _typed(ONE_D), "x": _typed(ONE_D[:0])},
        {"predictions": _typed(ONE_D[:0]), "targets": {"data": 7, "dtype": "float64"}},
    ],
    ids=["both", "bin8", "bin16", "2d", "mixed", "empty-and-odd"],
)
def test_typed_arrays_are_msgpacks_own(document: dict[str, Any]) -> None:
    body = msgpack.packb(document)
    fast = decode_number_arrays(body, NUMBER_ARRAYS)
    assert fast is not None
    assert_same(fast, msgpack.unpackb(body))


@pytest.mark.parametrize("cut", [100, 8 * 5000 + 20], ids=["in-the-bin", "before-it"])
def test_a_typed_array_cut_short_is_explained_by_msgpack(cut: int) -> None:
    body = msgpack.packb({"predictions": _typed(ONE_D), "targets": _typed(ONE_D)})
    with pytest.raises(ValueError, match="not valid MessagePack"):
        MSGPACK.decode(body[:-cut], Decoding(NUMBER_ARRAYS))


@pytest.mark.parametrize(
    "body",
    [
        msgpack.packb([1.0] * 5000),  # not a map
        msgpack.packb({"predictions": ONE_D.tolist()}) + b"\x01",  # extra data
    ],
)
def test_what_it_cannot_read_goes_to_msgpack(body: bytes) -> None:
    assert decode_number_arrays(body, NUMBER_ARRAYS) is None


def test_a_truncated_body_is_explained_by_msgpack() -> None:
    body = msgpack.packb({"predictions": ONE_D.tolist(), "targets": ONE_D.tolist()})
    with pytest.raises(ValueError, match="not valid MessagePack"):
        MSGPACK.decode(body[: len(body) // 2], Decoding(NUMBER_ARRAYS))


def test_the_codec_takes_the_fast_path_for_large_bodies() -> None:
    body = msgpack.packb({"predictions": ONE_D.tolist(), "targets": ONE_D.tolist()})
    document = MSGPACK.decode(body, Decoding(NUMBER_ARRAYS))
    assert isinstance(document["predictions"], np.ndarray)
    np.testing.assert_array_equal(document["targets"], ONE_D)
