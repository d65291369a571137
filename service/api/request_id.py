"""The request id: the client's X-Request-ID when it is usable, else a new one; one per request."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers
from starlette.types import Scope

__all__ = ["REQUEST_ID_HEADER", "request_id"]

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept if it is short and plain: it goes into logs and headers verbatim.
_VALID_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def request_id(scope: Scope) -> str:
    """The request's id, decided at its first call and kept in the request's state."""
    state = scope.setdefault("state", {})
    found = state.get("request_id")
    if isinstance(found, str):
        return found
    incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
    valid = incoming is not None and _VALID_ID.fullmatch(incoming)
    made: str = incoming if valid and incoming is not None else uuid.uuid4().hex
    state["request_id"] = made
    return made
