"""Limits on the shape of a decoded request document: keys per object and nesting depth.

The decoders are linear in the body's size, but what comes after them is not always linear in
the document's shape: validation explains every unknown key, error messages print nested values.
`check_document` refuses an object with too many keys or a document nested too deep right after
decoding, before anything else looks at it. It walks containers only: a flat list of numbers is
one C-level pass over its element types, and numpy arrays (the JSON fast path's) are leaves.
"""

from __future__ import annotations

import reprlib
from typing import Any

from .errors import LimitError

__all__ = ["check_document", "check_loss_count", "shorten", "show"]

_CONTAINERS = (dict, list)


def shorten(text: str, limit: int = 64) -> str:
    """`text` as an error message may echo it: at most `limit` characters, then how many more."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _bounded_repr() -> reprlib.Repr:
    printer = reprlib.Repr()  # keyword arguments only from Python 3.12
    printer.maxlevel, printer.maxlist, printer.maxdict = 3, 4, 4
    printer.maxstring = printer.maxother = printer.maxlong = 40
    return printer


_REPR = _bounded_repr()


def show(value: Any, width: int = 60) -> str:
    """`value` as an error message shows it: bounded in depth and length whatever the client
    sent (a list nested a thousand deep, a megabyte string), cut to `width` characters."""
    text = _REPR.repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def loc_text(loc: tuple[str | int, ...]) -> str:
    """A location as a client writes it: ("losses", 0, "delta") -> "losses[0].delta"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _where(loc: tuple[str | int, ...]) -> str:
    return loc_text(loc) or "the body"


def check_document(document: Any, *, max_keys: int, max_depth: int) -> None:
    """Refuse an object of more than `max_keys` keys, or nesting deeper than `max_depth` (the
    body's top-level object is depth 1), naming where and the setting."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(document, 1, ())]
    while stack:
        value, depth, loc = stack.pop()
        if depth > max_depth:
            raise LimitError(
                f"{shorten(_where(loc), 48)} is nested {depth} deep; the limit is {max_depth} "
                "(max_nesting_depth)",
                loc=("body", *loc),
            )
        if isinstance(value, dict):
            if len(value) > max_keys:
                raise LimitError(
                    f"{_where(loc)} is an object of {len(value)} keys; the limit is {max_keys} "
                    "(max_object_keys)",
                    loc=("body", *loc),
                )
            for key, item in value.items():
                if isinstance(item, _CONTAINERS):
                    stack.append((item, depth + 1, (*loc, shorten(str(key)))))
        elif isinstance(value, list):
            kinds = set(map(type, value))
            if dict in kinds or list in kinds:
                for position, item in enumerate(value):
                    if isinstance(item, _CONTAINERS):
                        stack.append((item, depth + 1, (*loc, position)))


def check_json_keys(body: bytes | bytearray, limit: int) -> None:
    """Refuse a JSON body that holds more than `limit` object keys in all, before it is parsed.

    A key is a string followed by a colon. `"` then `:` is the end of a key, unless the quote is
    escaped (`\\"` then `:`, which only a string holds): their difference is a lower bound of the
    keys (a key spaced from its colon, or one ending in an escaped backslash, is not counted), so
    a body refused here holds more keys than that in truth, whatever its strings say. Two C-level
    byte counts; a body of a million keys is refused at its own size, not the five times that a
    parser's tape costs.
    """
    keys = body.count(b'":') - body.count(b'\\":')
    if keys > limit:
        raise LimitError(
            f"the body holds at least {keys} object keys; a request holds at most {limit} "
            "(its objects times max_object_keys)"
        )


def check_loss_count(document: dict[str, Any], limit: int) -> None:
    """An evaluate request names at most `limit` losses (max_evaluate_losses)."""
    losses = document.get("losses")
    if isinstance(losses, list) and len(losses) > limit:
        message = (
            f"losses names {len(losses)} losses; the limit is {limit} per request "
            "(max_evaluate_losses)"
        )
        raise LimitError(message, loc=("body", "losses"))
