"""The simdjson fast path for JSON number arrays: it agrees with orjson + np.asarray, or gives way.

`decode_number_arrays` may answer None for any body; when it answers, every field must be what
orjson would have made, with the number arrays as float64 arrays of np.asarray's exact shape and
values. The tricky inputs are the ones simdjson's `as_buffer` would silently flatten.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import orjson
import pytest
import simdjson
from hypothesis import given, settings
from hypothesis import strategies as st

from service.losses import Regularization, evaluate
from service.wire import JSON, Decoding, fastjson
from service.wire.fastjson import FAST_JSON_MIN_BYTES, NumberArrays, decode_number_arrays

from .support import ApiClient, assert_problem

FIELDS: NumberArrays = {
    "predictions": None,
    "targets": None,
    "sample_weight": None,
    "regularization": {"weights": None},
}
LIMIT = 2**24


def decode(body: bytes) -> dict[str, Any] | None:
    return decode_number_arrays(body, FIELDS, max_numbers=LIMIT)


def assert_agrees_with_orjson(
    body: bytes, fast: dict[str, Any] | None, fields: NumberArrays = FIELDS
) -> None:
    """`fast` is None, or orjson's document with rectangular number lists read as float64."""
    if fast is None:
        return
    reference = orjson.loads(body)
    assert isinstance(reference, dict)
    assert set(fast) == set(reference)
    for key, value in fast.items():
        inner = fields.get(key, False)
        if isinstance(value, np.ndarray):
            assert inner is None, key
            expected = np.asarray(reference[key], dtype=np.float64)
            assert value.dtype == np.float64
            assert value.shape == expected.shape
            assert value.ndim in (1, 2)
            np.testing.assert_array_equal(value, expected)
            # Only numbers, none of them null: a list orjson made would hold nothing else.
            flat = reference[key] if value.ndim == 1 else list(itertools.chain(*reference[key]))
            assert all(type(item) in (int, float) for item in flat)
        elif isinstance(value, dict) and isinstance(inner, dict):
            assert_agrees_with_orjson(orjson.dumps(reference[key]), value, inner)
        else:
            assert value == reference[key], key
            assert type(value) is type(reference[key]), key


def test_flat_and_two_deep_arrays_become_float64() -> None:
    body = orjson.dumps(
        {
            "predictions": [[0.5, 1], [2, -3.25]],
            "targets": [1, 2],
            "sample_weight": [1e-300, 1.7976931348623157e308],
            "regularization": {"weights": [0.1, 0.2, 0.3], "l1": 0.5},
            "reduction": "sum",
            "group_by": [3, 4],
            "losses": [{"name": "mse", "weight": 1}],
        }
    )
    document = decode(body)
    assert document is not None
    assert_agrees_with_orjson(body, document)
    assert document["predictions"].shape == (2, 2)
    assert isinstance(document["regularization"]["weights"], np.ndarray)
    # Not one of the number fields: group keys stay Python integers.
    assert document["group_by"] == [3, 4]


@pytest.mark.parametrize(
    "array",
    [
        [1, [2]],  # would flatten to [1, 2]
        [1, [], [2, 3]],  # the counts agree, the shape does not
        [[1, 2], [3]],  # ragged rows
        [[1, 2], 3, [4]],
        [[1, [2]], [3, 4]],  # a row deeper than the others, same element count
        [[1, 2], [[3, 4]], [5, 6]],
        [[[1, 2]], [[3, 4]]],  # three deep: orjson's path refuses it
        [[], []],
        [1, None, 3],  # null is NaN: the list path reads it
        [1, True],
        [1, "0"],
        [1, {"a": 2}],
    ],
)
def test_arrays_it_cannot_read_exactly_are_left_to_the_list_path(array: list[Any]) -> None:
    body = orjson.dumps({"predictions": array, "targets": [1, 2]})
    document = decode(body)
    assert_agrees_with_orjson(body, document)
    if document is not None:
        assert not isinstance(document["predictions"], np.ndarray)


@pytest.mark.parametrize(
    "body",
    [
        # A "[" in a string could hide a nested array from the count: escaped here, so the raw
        # bytes hold one "[" less than the decoded string.
        b'{"predictions": [1, [2]], "reduction": "\\u005b"}',
        b'{"predictions": [1, 2], "reduction": "[x"}',
        b'{"predictions": [1, 2], "a[": 1}',
        b'{"predictions": [1, 2], "predictions": [[3, 4]]}',  # orjson keeps the last
        b'{"regularization": {"weights": [1], "weights": [2]}}',
        b'{"predictions": [1, 2], "losses": ' + b"[" * 100 + b"]" * 100 + b"}",
    ],
)
def test_unsure_arrays_stay_the_lists_orjson_makes(body: bytes) -> None:
    document = decode(body)
    assert document is not None
    assert_agrees_with_orjson(body, document)
    assert not any(isinstance(value, np.ndarray) for value in document.values())


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf" + b'{"predictions": [1]}',  # orjson refuses a byte order mark
        b'{"predictions": [1e400]}',  # orjson refuses infinity
        b'{"predictions": [18446744073709551616]}',
        b'{"predictions": [1, 2]',
        b'{"predictions": [1, 2]} x',
        b'[{"predictions": [1, 2]}]',
        b'{"predictions": ["\\ud800"]}',
    ],
)
def test_bodies_orjson_reads_otherwise_are_left_to_orjson(body: bytes) -> None:
    assert decode(body) is None


def test_more_commas_than_the_element_limit_is_left_to_orjson() -> None:
    body = orjson.dumps({"predictions": list(range(3000)), "targets": [1]})
    assert decode_number_arrays(body, FIELDS, max_numbers=10) is None
    assert decode_number_arrays(body, FIELDS, max_numbers=3000) is not None


def test_a_bytearray_body_is_released_once_parsed() -> None:
    body = bytearray(orjson.dumps({"predictions": [1.5, 2.5], "targets": [[1, [2]]]}))
    document = decode_number_arrays(body, FIELDS, max_numbers=LIMIT)
    assert document is not None
    assert not body
    assert document["targets"] == [[1, [2]]]


NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
ITEMS = st.recursive(
    st.one_of(NUMBERS, st.none(), st.booleans(), st.sampled_from(["[", "a", "]["])),
    lambda children: st.lists(children, max_size=4),
    max_leaves=12,
)
ARRAYS = st.one_of(
    st.lists(NUMBERS, min_size=1, max_size=6),
    st.lists(st.lists(NUMBERS, min_size=2, max_size=2), min_size=1, max_size=4),
    st.lists(ITEMS, max_size=6),
)
SMALL = st.dictionaries(
    st.sampled_from(["reduction", "group_by", "losses", "x[", "delta"]),
    st.one_of(ITEMS, st.text(max_size=3), st.dictionaries(st.text(max_size=2), ITEMS, max_size=2)),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(
    arrays=st.dictionaries(st.sampled_from(["predictions", "targets", "sample_weight"]), ARRAYS),
    weights=st.one_of(st.none(), ARRAYS),
    small=SMALL,
)
def test_any_document_decodes_as_orjson_reads_it(
    arrays: dict[str, Any], weights: Any, small: dict[str, Any]
) -> None:
    document = {**small, **arrays}
    if weights is not None:
        document["regularization"] = {"weights": weights, "l2": 0.5}
    body = orjson.dumps(document)
    assert_agrees_with_orjson(body, decode(body))


def test_large_json_bodies_take_the_fast_path_and_small_ones_do_not() -> None:
    values = np.linspace(-1, 1, FAST_JSON_MIN_BYTES // 8)
    large = orjson.dumps(
        {"predictions": values, "targets": values[::-1].copy()}, option=orjson.OPT_SERIALIZE_NUMPY
    )
    assert len(large) >= FAST_JSON_MIN_BYTES
    document = JSON.decode(large, Decoding(FIELDS, LIMIT))
    assert isinstance(document["predictions"], np.ndarray)
    np.testing.assert_array_equal(document["predictions"], values)
    small = orjson.dumps({"predictions": [1.0, 2.0], "targets": [1.0, 2.0]})
    assert JSON.decode(small, Decoding(FIELDS, LIMIT))["predictions"] == [1, 2]
    # Without the fields, JSON is decoded as it always was.
    assert isinstance(JSON.decode(large)["predictions"], list)


def test_large_json_requests_answer_as_the_list_path_does(client: ApiClient) -> None:
    rng = np.random.default_rng(7)
    predictions = rng.random((4000, 3))
    targets = rng.random((4000, 3))
    weights = rng.random(4000)
    body = {
        "predictions": predictions.tolist(),
        "targets": targets.tolist(),
        "sample_weight": weights.tolist(),
        "regularization": {"weights": [0.5, -1.0], "l2": 0.1},
    }
    large = orjson.dumps(body)
    assert len(large) >= FAST_JSON_MIN_BYTES
    fast = client.post("/v1/losses/huber", content=large).json()
    reference = evaluate(
        "huber",
        predictions,
        targets,
        sample_weight=weights,
        regularization=Regularization(np.array([0.5, -1.0]), l1=0.0, l2=0.1),
    )
    assert fast["value"] == reference.value
    assert fast["cost"] == reference.cost
    np.testing.assert_array_equal(np.array(fast["gradient"]), reference.gradient)


def test_large_json_request_with_a_nested_element_names_it(client: ApiClient) -> None:
    predictions: list[Any] = np.linspace(0, 1, 10_000).tolist()
    predictions[9_000] = [0.5]
    body = orjson.dumps({"predictions": predictions, "targets": np.linspace(0, 1, 10_000).tolist()})
    assert len(body) >= FAST_JSON_MIN_BYTES
    response = client.post("/v1/losses/mean_squared_error", content=body)
    assert_problem(response, 422, "predictions[9000]", "[0.5]")


# Large bodies: the number arrays parsed one at a time, each from its own span of the text.

TEXTS = st.text(alphabet=st.sampled_from('ab:[]{}", \\'), max_size=4)
SPLIT_SMALL = st.dictionaries(
    st.sampled_from(["reduction", "group_by", "losses", "x[", "delta", 'a"b', "predictions2"]),
    st.one_of(ITEMS, TEXTS, st.dictionaries(TEXTS, ITEMS, max_size=2)),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(
    arrays=st.dictionaries(st.sampled_from(["predictions", "targets", "sample_weight"]), ARRAYS),
    weights=st.one_of(st.none(), ARRAYS),
    small=SPLIT_SMALL,
    spaced=st.booleans(),
)
def test_any_document_decodes_as_orjson_reads_it_when_split(
    arrays: dict[str, Any], weights: Any, small: dict[str, Any], spaced: bool
) -> None:
    document = {**small, **arrays}
    if weights is not None:
        document["regularization"] = {"weights": weights, "l2": 0.5}
    body = orjson.dumps(document, option=orjson.OPT_INDENT_2 if spaced else 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fastjson, "SPLIT_MIN_BYTES", 0)
        assert_agrees_with_orjson(body, decode(body))


def test_a_large_body_is_never_parsed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """The body, simdjson's copy of what it parses and its tape are never all whole at once: each
    array is parsed from its own span, the rest (a few bytes) by orjson."""
    parsed: list[int] = []
    real = simdjson.Parser.parse

    def recording(parser: Any, source: Any, *args: Any) -> Any:
        parsed.append(len(source))
        return real(parser, source, *args)

    monkeypatch.setattr(simdjson, "Parser", type("Parser", (simdjson.Parser,), {}))
    monkeypatch.setattr(simdjson.Parser, "parse", recording)
    rng = np.random.default_rng(3)
    predictions, targets = rng.random(150_000), rng.random((15_000, 10))
    body = bytearray(
        orjson.dumps(
            {
                "predictions": predictions.tolist(),
                "reduction": "sum",
                "targets": targets.tolist(),
                "group_by": ["a:[b]"] * 3,
            }
        )
    )
    size = len(body)
    assert size > fastjson.SPLIT_MIN_BYTES
    document = decode_number_arrays(body, FIELDS, max_numbers=LIMIT)
    assert document is not None
    np.testing.assert_array_equal(document["predictions"], predictions)
    np.testing.assert_array_equal(document["targets"], targets)
    assert document["reduction"] == "sum"
    assert document["group_by"] == ["a:[b]"] * 3
    assert not body  # released
    assert len(parsed) == 2
    assert max(parsed) < size * 0.6, (parsed, size)


@pytest.mark.parametrize(
    "body",
    [
        b'{"predictions": [1, [2]], "targets": [1, 2]}',  # deeper than it looks
        b'{"predictions": [1, null], "targets": [1, 2]}',  # null: the list path
        b'{"predictions": [1, 2], "predictions": [3], "targets": [1]}',  # a key twice
        b'{"predictions": [1, 2], "note": "a \\" quote", "targets": [1]}',  # a backslash
        b'{"predictions": [1, 2] 5, "targets": [1]}',  # invalid around the arrays
    ],
)
def test_split_bodies_it_cannot_vouch_for_go_the_whole_way(
    monkeypatch: pytest.MonkeyPatch, body: bytes
) -> None:
    monkeypatch.setattr(fastjson, "SPLIT_MIN_BYTES", 0)
    assert fastjson._split(bytearray(body), FIELDS) is None
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        assert decode(body) is None  # orjson explains
    else:
        assert_agrees_with_orjson(body, decode(body))
