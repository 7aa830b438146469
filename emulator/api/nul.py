"""NUL characters (U+0000) are refused wherever a request carries text: PostgreSQL cannot store them in a text
column, so the emulator refuses them on every database alike, with a 400 that says where the NUL was.

A JSON string can only carry one as the escape `\\u0000` (a raw NUL is not JSON), a query string or a path
as `%00` (or a raw byte): each check looks for those bytes first, so a request without them costs one scan."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from emulator.errors import Malformed

NUL = "\x00"
_JSON_ESCAPE = b"\\u0000"


def _where(value: Any, path: str) -> str | None:
    """The location of the first string (value or key) holding a NUL, as `a.b[2]`; None if there is none."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and NUL in key:
                return here.replace(NUL, "\\u0000")
            found = _where(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _where(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def check_document(value: Any, source: str = "The request body") -> None:
    """Refuse a parsed document (a JSON body, a fixture) with a NUL in any of its strings."""
    where = _where(value, "")
    if where is not None:
        field = f"field '{where}'" if where else "its value"
        raise Malformed(f"{source} has a NUL character (\\u0000) in {field}; text may not contain NUL "
                        "characters, so remove it.")


def check_json(raw: bytes, value: Any) -> None:
    """`check_document` for a JSON body, only when its text has the escape a NUL needs."""
    if _JSON_ESCAPE in raw:
        check_document(value)


def refusal(path: str, query_string: bytes) -> str | None:
    """Why a request's path or query string is refused (a NUL in it), or None when it has none."""
    if NUL in path:
        return "The request path has a NUL character (%00); paths may not contain NUL characters."
    if b"%00" in query_string or b"\x00" in query_string:
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if NUL in name or NUL in value:
                shown = name.replace(NUL, "%00")
                return (f"Query parameter '{shown}' has a NUL character (%00); query parameters may not contain "
                        "NUL characters.")
    return None
