"""The wire layer: request bodies under limits, document codecs and array codecs.

Nothing here knows of FastAPI: the API hands it bytes and headers, and gets back documents,
numpy arrays, and `WireError`s that carry their HTTP status.
"""

from .arrays import (
    DTYPES,
    ArrayEncoding,
    ArrayInput,
    check_element_limit,
    encode_array,
    inspect_array,
    inspect_keys,
)
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
    MalformedBodyError,
    TooManyElementsError,
    UnsupportedMediaTypeError,
    WireError,
)
from .fastjson import NumberArrays

__all__ = [
    "CODECS",
    "DTYPES",
    "JSON",
    "MSGPACK",
    "RESPONSE_GZIP_LEVEL",
    "RESPONSE_GZIP_MIN_BYTES",
    "ArrayEncoding",
    "ArrayFormatError",
    "ArrayInput",
    "BodyTooLargeError",
    "Codec",
    "GzipDecoder",
    "JsonCodec",
    "MalformedBodyError",
    "MsgpackCodec",
    "NumberArrays",
    "TooManyElementsError",
    "UnsupportedMediaTypeError",
    "WireError",
    "accepts_gzip",
    "check_content_length",
    "check_element_limit",
    "codec_for_accept",
    "codec_for_content_type",
    "content_coding",
    "encode_array",
    "inspect_array",
    "inspect_keys",
    "pack_float_array",
    "read_body",
]
