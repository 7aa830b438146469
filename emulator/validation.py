"""Pydantic validation errors as sentences a person understands."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

_PY_TYPES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}

_BY_TYPE = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "list_type": "must be a JSON array",
    "none_required": "must be null",
}


def _field(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _sentence(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    field = _field(error["loc"])
    if kind in _BY_TYPE:
        rule = _BY_TYPE[kind]
    elif kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        if len(expected) > 120:
            expected = expected[:100].rsplit(",", 1)[0] + ", ... (see the API reference)"
        rule = f"must be one of {expected} (got {error.get('input')!r})"
    elif kind in ("greater_than_equal", "greater_than"):
        rule = f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    elif kind in ("less_than_equal", "less_than"):
        rule = f"must be at most {ctx.get('le', ctx.get('lt'))}"
    elif kind == "string_too_short":
        rule = "must not be empty" if ctx.get("min_length") == 1 else f"must be at least {ctx['min_length']} characters"
    elif kind == "string_too_long":
        rule = f"must be at most {ctx.get('max_length')} characters"
    elif kind == "string_pattern_mismatch":
        rule = f"must match the pattern {ctx.get('pattern')}"
    elif kind in ("too_short", "too_long"):
        rule = error["msg"][0].lower() + error["msg"][1:]
    else:
        rule = "is invalid: " + error["msg"]
    return f"Field '{field}' {rule}."


def describe(exc: ValidationError) -> str:
    """All problems in one detail string, each its own sentence, in field order."""
    seen: list[str] = []
    for error in exc.errors(include_url=False):
        # A union of `X | None` reports the same field twice; keep the first sentence.
        if error["type"] == "none_required" and any(f"'{_field(error['loc'])}'" in s for s in seen):
            continue
        sentence = _sentence(error)
        if sentence not in seen:
            seen.append(sentence)
    return " ".join(seen)


def structured(exc: ValidationError) -> list[dict[str, Any]]:
    """The FastAPI-shaped list (loc/msg/type), sent alongside the sentence for clients that want it."""
    return [
        {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
