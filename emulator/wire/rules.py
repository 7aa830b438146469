"""Rules a handler checks with its own sentence, stated in the served OpenAPI document as well.

Phone numbers, URLs, API keys and timestamps are checked by the domain (emulator/phones.py, emulator/urls.py,
emulator/domain/accounts.py, emulator/clock.py), which answers a sentence naming the field; these types leave
that validation where it is and give the document the same rule as a pattern, so a client (or a fuzzer) reading
the document knows exactly which values are accepted. `not_null` does the same for optional fields that may be
left out but not sent as null.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, WithJsonSchema

from emulator.calls.script import MAX_SAY, MAX_TURNS
from emulator.clock import ISO_RULE
from emulator.keys import KEY_RULE
from emulator.phones import E164_RULE, LENIENT_RULE
from emulator.urls import MAX_URL, url_rule

EMAIL_RULE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"  # what emulator/domain/contacts.py accepts as an email address

PhoneNumber = Annotated[str, WithJsonSchema({"type": "string", "pattern": E164_RULE, "examples": ["+14155551234"],
                                             "description": "E.164: + and the country code and number."})]
LenientPhoneNumber = Annotated[str, WithJsonSchema({
    "type": "string", "pattern": LENIENT_RULE, "examples": ["+14155551234", "(415) 555-1234"],
    "description": "E.164, or a North American number of 10 digits; spaces, dots, dashes and brackets are "
                   "ignored."})]
WebUrl = Annotated[str, WithJsonSchema({"type": "string", "pattern": url_rule(), "maxLength": MAX_URL,
                                        "examples": ["https://example.com/webhook"]})]
HttpsUrl = Annotated[str, WithJsonSchema({"type": "string", "pattern": url_rule(https_only=True),
                                          "maxLength": MAX_URL, "examples": ["https://example.com/image.png"]})]
ApiKey = Annotated[str, WithJsonSchema({"type": "string", "pattern": KEY_RULE, "examples": ["sk_test_local"]})]
IsoTime = Annotated[str, WithJsonSchema({"type": "string", "pattern": ISO_RULE,
                                         "examples": ["2027-01-01T00:00:00Z"]})]


def _without_null(schema: dict[str, Any]) -> None:
    options = schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        del schema["anyOf"]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    if schema.get("default", 0) is None:
        del schema["default"]


def not_null(*names: str) -> Callable[[dict[str, Any], type[BaseModel]], None]:
    """A model's `json_schema_extra`: these fields (Python names; every field when none is named) may be left
    out, but null is not one of their values."""

    def edit(schema: dict[str, Any], model: type[BaseModel]) -> None:
        fields = names or tuple(model.model_fields)
        properties = schema.get("properties", {})
        for name in fields:
            info = model.model_fields[name]
            prop = properties.get(info.alias or name)
            if isinstance(prop, dict):
                _without_null(prop)

    return edit


def required(*names: str) -> Callable[[dict[str, Any], type[BaseModel]], None]:
    """A model's `json_schema_extra`: fields the handler requires although the model lets them be left out
    (so that its own sentence, not a generic one, says what is missing)."""

    def edit(schema: dict[str, Any], model: type[BaseModel]) -> None:
        needed = schema.setdefault("required", [])
        for name in names:
            alias = model.model_fields[name].alias or name
            if alias not in needed:
                needed.append(alias)
            prop = schema.get("properties", {}).get(alias)
            if isinstance(prop, dict):
                _without_null(prop)

    return edit


# A caller script's turn (emulator/calls/script.py), recursive through IVR menus.
_DTMF = "^[0-9*#wW]+$"


def _turn(key: str, value: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {key: value, **more}, "required": [key], "additionalProperties": False}


TURN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One turn of a caller script: exactly one of say, silence, press, hangup, on_digits.",
    "oneOf": [
        _turn("say", {"type": "string", "minLength": 1, "maxLength": MAX_SAY, "pattern": r"\S"},
              interrupt={"type": "boolean"}),
        _turn("silence", {"type": "number", "exclusiveMinimum": 0, "maximum": 3600}),
        _turn("press", {"type": "string", "pattern": _DTMF}),
        _turn("hangup", {"const": True}),
        _turn("on_digits", {"type": "object", "minProperties": 1,
                            "propertyNames": {"pattern": "^(?:default|[0-9*#wW]+)$"},
                            "additionalProperties": {"type": "array", "maxItems": MAX_TURNS,
                                                     "items": {"$ref": "#/components/schemas/Turn"}}}),
    ],
}
# Schemas the document holds beside those of the models (emulator/api/openapi.py adds them).
EXTRA_SCHEMAS: dict[str, dict[str, Any]] = {"Turn": TURN_SCHEMA}
# Pydantic refuses references to schemas it did not make: a model's schema names the turn by this stand-in,
# which the document replaces with the reference (emulator/api/openapi.py).
TURN_STAND_IN = {"x-emulator-schema": "Turn"}
Turns = Annotated[list[Any], WithJsonSchema({"type": "array", "maxItems": MAX_TURNS, "items": TURN_STAND_IN})]


def one_of(*names: str) -> Callable[[dict[str, Any], type[BaseModel]], None]:
    """A model's `json_schema_extra`: exactly one of these fields is given (none of them may be null)."""

    def edit(schema: dict[str, Any], model: type[BaseModel]) -> None:
        aliases = [model.model_fields[name].alias or name for name in names]
        for alias in aliases:
            prop = schema.get("properties", {}).get(alias)
            if isinstance(prop, dict):
                _without_null(prop)
        schema["oneOf"] = [{"required": [alias]} for alias in aliases]

    return edit
