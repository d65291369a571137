"""The wire layer on its own: array codecs, document codecs, content coding, declared lengths."""

from __future__ import annotations

import base64
import gzip

import numpy as np
import orjson
import pytest

from service.wire import (
    JSON,
    ArrayFormatError,
    BodyTooLargeError,
    GzipDecoder,
    LimitError,
    MalformedBodyError,
    TooManyElementsError,
    UnsupportedMediaTypeError,
    check_content_length,
    check_element_limit,
    check_json_keys,
    codec_for_accept,
    codec_for_content_type,
    content_coding,
    encode_array,
    inspect_array,
    inspect_keys,
)

LOC = ("body", "predictions")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
def test_typed_array_round_trip_is_a_view_of_the_bytes(dtype: str) -> None:
    values = np.arange(6, dtype=np.dtype(dtype).newbyteorder("<")).reshape(2, 3)
    field = {"dtype": dtype, "shape": [2, 3], "data": base64.b64encode(values.tobytes()).decode()}
    array_input = inspect_array(field, LOC)
    assert array_input.size == 6
    array = array_input.to_numpy()
    assert array.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(array, values)
    assert not array.flags.writeable  # np.frombuffer: no copy


def test_raw_bytes_are_accepted_for_binary_codecs() -> None:
    values = np.array([1.5, -2.0])
    field = {"dtype": "float64", "shape": [2], "data": values.tobytes()}
    np.testing.assert_array_equal(inspect_array(field, LOC).to_numpy(), values)


def test_lists_become_float64_with_null_as_nan() -> None:
    array = inspect_array([[1, None], [3, 4.5]], LOC).to_numpy()
    assert array.dtype == np.float64
    assert np.isnan(array[0, 1])
    assert array[1, 1] == 4.5


def test_list_size_is_known_without_converting() -> None:
    assert inspect_array([[1.0] * 3] * 4, LOC).size == 12
    assert inspect_array([], LOC).size == 0
    assert inspect_array([[]], LOC).size == 0


def test_element_limit_names_every_array() -> None:
    arrays = [inspect_array([1.0] * 3, LOC), inspect_array([1.0] * 3, ("body", "targets"))]
    check_element_limit(arrays, 6)
    with pytest.raises(TooManyElementsError, match=r"7 .*predictions: 3, targets: 3"):
        check_element_limit([*arrays, inspect_array([1.0], ("body", "sample_weight"))], 6)


def test_keys_accept_strings_and_integers_only() -> None:
    assert inspect_keys(["a", "b"], ("body", "group_by")).to_numpy().dtype.kind == "O"
    assert inspect_keys([3, 4], ("body", "group_by")).to_numpy().dtype.kind == "i"
    for bad in ([1.5], [["a"]], [None], ["a", 1]):
        with pytest.raises(ArrayFormatError, match="group_by"):
            inspect_keys(bad, ("body", "group_by")).to_numpy()
    float_keys = {"dtype": "float64", "shape": [1], "data": "AAAAAAAAAAA="}
    with pytest.raises(ArrayFormatError, match=r"group_by\.dtype"):
        inspect_keys(float_keys, ("body", "group_by"))


def test_encode_array_as_lists_or_typed() -> None:
    values = np.array([[1.0, 2.0], [3.0, 4.0]]).T  # not C-contiguous
    listed = encode_array(values, "json", binary=False)
    assert orjson.loads(JSON.encode({"a": listed})) == {"a": values.tolist()}
    typed = encode_array(values, "base64", binary=False)
    assert typed["shape"] == [2, 2]
    decoded = np.frombuffer(base64.b64decode(typed["data"]), "<f8").reshape(typed["shape"])
    np.testing.assert_array_equal(decoded, values)
    assert encode_array(values, "base64", binary=True)["data"] == decoded.tobytes()


def test_json_codec_never_writes_nan_or_infinity() -> None:
    text = JSON.encode({"a": np.array([np.nan, np.inf]), "b": float("nan")})
    assert b"NaN" not in text
    assert b"Infinity" not in text


def test_json_codec_refuses_nan_tokens() -> None:
    with pytest.raises(MalformedBodyError):
        JSON.decode(b"[NaN]")


def test_codec_negotiation() -> None:
    assert codec_for_content_type(None) is JSON
    assert codec_for_content_type("application/json; charset=utf-8") is JSON
    with pytest.raises(UnsupportedMediaTypeError):
        codec_for_content_type("text/csv")
    assert codec_for_accept("text/html, application/json;q=0.9") is JSON
    assert codec_for_accept("*/*") is JSON


def test_content_coding() -> None:
    assert content_coding(None) is None
    assert content_coding("identity") is None
    assert content_coding(" GZIP ") == "gzip"
    with pytest.raises(UnsupportedMediaTypeError):
        content_coding("deflate")


def test_declared_length() -> None:
    check_content_length(None, 10)
    check_content_length("10", 10)
    with pytest.raises(BodyTooLargeError):
        check_content_length("11", 10)
    with pytest.raises(MalformedBodyError):
        check_content_length("ten", 10)


def test_gzip_decoder_in_small_pieces() -> None:
    body = orjson.dumps({"predictions": list(range(1000))})
    compressed = gzip.compress(body)
    decoder = GzipDecoder(len(body))
    for i in range(0, len(compressed), 7):
        decoder.feed(compressed[i : i + 7])
    assert bytes(decoder.finish()) == body
    with pytest.raises(BodyTooLargeError):
        GzipDecoder(len(body) - 1).feed(compressed)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        (["0"], r"predictions\[0\] = '0'"),
        ([1.0, "2.5"], r"predictions\[1\]"),
        ([[1.0], ["x"]], r"predictions\[1\]\[0\]"),
    ],
)
def test_strings_in_a_number_list_are_refused(value: object, where: str) -> None:
    # numpy would read "0" as 0.0; JSON strings are not numbers.
    with pytest.raises(ArrayFormatError, match=where):
        inspect_array(value, ("body", "predictions")).to_numpy()


def test_json_keys_are_counted_from_below_whatever_the_strings_hold() -> None:
    """`check_json_keys` never counts more keys than a body holds: escaped quotes before a colon
    (which only strings hold) cancel out, and a key spaced from its colon is not counted."""
    keys = orjson.dumps({f"k{i}": 1 for i in range(11)})
    check_json_keys(keys, 11)
    with pytest.raises(LimitError, match="at least 11 object keys; a request holds at most 10"):
        check_json_keys(keys, 10)
    tricky = orjson.dumps({"group_by": ['he said "x": no'] * 1000, "a": 1})
    assert tricky.count(b'":') > 1000
    check_json_keys(tricky, 2)
    check_json_keys(b'{"a" : 1, "b" : 2, "c" : 3}', 0)  # spaced: not counted, never too many
    check_json_keys(b'{"a\\\\": 1}', 0)  # a key ending in an escaped backslash: not counted
