"""The request id: the client's X-Request-ID when it is usable, else a new one; one per request."""

from __future__ import annotations

import os
import re

from starlette.types import Scope

__all__ = ["REQUEST_ID_HEADER", "request_id"]

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode()
# A client's id is kept if it is short and plain: it goes into logs and headers verbatim.
_VALID_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def request_id(scope: Scope) -> str:
    """The request's id, decided at its first call and kept in the request's state."""
    state = scope.setdefault("state", {})
    found = state.get("request_id")
    if isinstance(found, str):
        return found
    # The first X-Request-ID, as Headers.get finds it; the scope's list is read as it is, since
    # every request passes here.
    incoming = next((value for key, value in scope["headers"] if key == _HEADER_KEY), b"")
    text = incoming.decode("latin-1")
    made = text if _VALID_ID.fullmatch(text) else os.urandom(16).hex()
    state["request_id"] = made
    return made
