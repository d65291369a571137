"""schemathesis hooks: the service's second wire format, MessagePack, for request bodies and for
the responses it validates (test_schemathesis.py loads this file through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import schemathesis

MSGPACK = "application/msgpack"
INT64 = range(-(2**63), 2**64)  # what MessagePack's integers hold (int 64 and uint 64)


def _packable(value: Any) -> Any:
    """An integer beyond 64 bits has no MessagePack form: it travels as the nearest float (an
    infinity past float64's range, which the service refuses like any other)."""
    if isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
        try:
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, value)
    raise TypeError(f"cannot serialize {type(value).__name__} to MessagePack")


@schemathesis.serializer(MSGPACK)
def to_msgpack(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    packed: bytes = msgpack.packb(value, default=_packable)
    return packed


@schemathesis.deserializer(MSGPACK)
def from_msgpack(ctx: schemathesis.DeserializationContext, response: Any) -> Any:
    return msgpack.unpackb(response.content)
