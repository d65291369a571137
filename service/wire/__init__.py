"""The wire layer: request bodies under limits, document codecs and array codecs.

Nothing here knows of FastAPI: the API hands it bytes and headers, and gets back documents,
numpy arrays, and `WireError`s that carry their HTTP status.
"""

from .arrays import (
    DTYPES,
    ArrayEncoding,
    ArrayInput,
    check_element_limit,
    check_group_keys,
    document_arrays,
    encode_array,
    inspect_array,
    inspect_keys,
)
from .arrow import ARROW, ARROW_STREAM, ArrowCodec
from .body import (
    RESPONSE_GZIP_LEVEL,
    RESPONSE_GZIP_MIN_BYTES,
    GzipDecoder,
    accepts_gzip,
    check_content_length,
    content_coding,
    read_body,
)
from .codecs import (
    CODECS,
    JSON,
    MSGPACK,
    Codec,
    JsonCodec,
    MsgpackCodec,
    codec_for_accept,
    codec_for_content_type,
    pack_float_array,
)
from .errors import (
    ArrayFormatError,
    BodyTooLargeError,
    LimitError,
    MalformedBodyError,
    NumberRangeError,
    TooManyElementsError,
    UnsupportedMediaTypeError,
    WireError,
)
from .fastjson import Decoding, NumberArrays
from .limits import check_document, check_json_keys, check_loss_count, loc_text, shorten, show

__all__ = [
    "ARROW",
    "ARROW_STREAM",
    "CODECS",
    "DTYPES",
    "JSON",
    "MSGPACK",
    "RESPONSE_GZIP_LEVEL",
    "RESPONSE_GZIP_MIN_BYTES",
    "ArrayEncoding",
    "ArrayFormatError",
    "ArrayInput",
    "ArrowCodec",
    "BodyTooLargeError",
    "Codec",
    "Decoding",
    "GzipDecoder",
    "JsonCodec",
    "LimitError",
    "MalformedBodyError",
    "MsgpackCodec",
    "NumberArrays",
    "NumberRangeError",
    "TooManyElementsError",
    "UnsupportedMediaTypeError",
    "WireError",
    "accepts_gzip",
    "check_content_length",
    "check_document",
    "check_element_limit",
    "check_group_keys",
    "check_json_keys",
    "check_loss_count",
    "codec_for_accept",
    "codec_for_content_type",
    "content_coding",
    "document_arrays",
    "encode_array",
    "inspect_array",
    "inspect_keys",
    "loc_text",
    "pack_float_array",
    "read_body",
    "shorten",
    "show",
]
