"""What every wire module shares: the request and response model bases, the list envelope, and a
renderer that reads a row's columns by the response model's own field names.

Request models validate what clients send (camelCase aliases, documented ranges; unknown fields are
ignored, as the real FastAPI server does). Response models describe, field for field, what the render
functions emit: the served OpenAPI document is generated from them and the conformance tests check
every real response against them (`extra="forbid"`), so a field added to a render function without
its model, or the other way round, fails those tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, Generic, TypeVar, cast, get_args

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from emulator.clock import iso

# Every timestamp the emulator sends: ISO-8601 UTC with milliseconds and a trailing Z.
Timestamp = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
                                 json_schema_extra={"format": "date-time"})]
Json = dict[str, Any]


def _whole(value: Any) -> Any:
    """JSON has one kind of number: 5.0 is the integer 5 (as the vendor's FastAPI server reads it, and as the
    served JSON Schema's `integer` means); 5.5 stays a float, refused as an integer."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Put on every integer a request model reads (with strict models, 5.0 would otherwise be refused).
Whole = BeforeValidator(_whole)
NonEmpty = Annotated[str, Field(min_length=1, max_length=500)]
# Longest texts accepted (the README's fidelity notes list them): a short label, a paragraph, a prompt.
Label = Annotated[str, Field(max_length=500)]
Paragraph = Annotated[str, Field(max_length=2_000)]
Prompt = Annotated[str, Field(max_length=20_000)]


class Model(BaseModel):
    """A request body in camelCase (snake_case names are accepted too)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="ignore",
                              frozen=True, defer_build=True)


class SnakeModel(BaseModel):
    """A request body the vendor spells in snake_case (messaging, registration)."""

    model_config = ConfigDict(populate_by_name=True, strict=True, extra="ignore", frozen=True, defer_build=True)


class Out(BaseModel):
    """A response in camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True,
                              defer_build=True)


class SnakeOut(BaseModel):
    """A response in snake_case (the vendor spells messaging and registration bodies this way)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


T = TypeVar("T")


class Page(Out, Generic[T]):
    """The list envelope: the skill doc's `{data, total}` plus the SDK's `hasMore`."""

    data: list[T]
    total: int
    has_more: bool

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return f"{params[0].__name__}List"


class Error(Out):
    """Every 4xx and 5xx: a human sentence in `detail`; field-rule errors add FastAPI-shaped `errors`."""

    detail: str
    errors: list[Json] | None = None


class Deleted(Out):
    success: bool
    id: str
    message: str | None = None


class Success(Out):
    success: bool


def page(items: list[dict[str, Any]], total: int, offset: int) -> dict[str, Any]:
    """The list envelope every paged endpoint shares: `data`, `total`, `hasMore`."""
    return {"data": items, "total": total, "hasMore": offset + len(items) < total}


def written_page(documents: list[str], total: int, offset: int) -> dict[str, Any]:
    """`page` of items SQLite wrote as JSON text, for orjson to send as they are."""
    return {"data": orjson.Fragment("[" + ",".join(documents) + "]"), "total": total,
            "hasMore": offset + len(documents) < total}


def success() -> dict[str, Any]:
    return {"success": True}


def deleted(ident: str, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"success": True, "id": ident}
    if message is not None:
        out["message"] = message
    return out


_STAMP_EXTRA = {"format": "date-time"}


def _is_timestamp(info: FieldInfo) -> bool:
    """Whether a field is a `Timestamp` (alone, or in a union such as `Timestamp | None`)."""
    if info.json_schema_extra == _STAMP_EXTRA:
        return True
    return any(isinstance(meta, FieldInfo) and meta.json_schema_extra == _STAMP_EXTRA
               for arg in get_args(info.annotation) for meta in getattr(arg, "__metadata__", ()))


def wire_fields(model: type[BaseModel], *, skip: Iterable[str] = (),
                source: dict[str, str] | None = None) -> list[tuple[str, str, bool]]:
    """(wire name, row attribute, is a timestamp) of each field `columns` renders, in the order it renders them:
    the other fields in the model's order, then the timestamps."""
    renames = source or {}
    skipped = set(skip)
    plain: list[tuple[str, str, bool]] = []
    stamps: list[tuple[str, str, bool]] = []
    for name, info in model.model_fields.items():
        if name in skipped:
            continue
        stamp = _is_timestamp(info)
        (stamps if stamp else plain).append((info.alias or name, renames.get(name, name), stamp))
    return plain + stamps


def columns(model: type[BaseModel], *, skip: Iterable[str] = (),
            source: dict[str, str] | None = None) -> Callable[[Any], dict[str, Any]]:
    """A function that copies a row's attributes into the model's wire names.

    Each field reads the row attribute of its own (snake_case) name, or `source[name]` where the column
    is called otherwise; timestamp fields are sent in ISO form. Fields in `skip` are left to the caller.
    """
    fields = wire_fields(model, skip=skip, source=source)
    made: dict[type, Callable[[Any], dict[str, Any]]] = {}

    def render(row: Any) -> dict[str, Any]:
        kind = type(row)
        write = made.get(kind)
        if write is None:
            # A named tuple class says its columns (SQLAlchemy's own Row class does not: each statement's differ).
            positions = getattr(kind, "_fields", None)
            write = made[kind] = _writer(fields, positions if isinstance(positions, tuple) else None)
        return write(row)

    return render


def _writer(fields: list[tuple[str, str, bool]], positions: tuple[str, ...] | None) -> Callable[[Any], dict[str, Any]]:
    """The render function of one kind of row, written out as one dict display: a row of a hot statement (a
    named tuple) is read by position, anything else (an entity) by attribute."""
    index = {name: i for i, name in enumerate(positions)} if positions is not None else {}
    items = []
    for wire, attr, stamp in fields:
        read = f"row[{index[attr]}]" if attr in index else f"row.{attr}"
        items.append(f"{wire!r}: {'iso(' + read + ')' if stamp else read}")
    source = "def write(row):\n    return {" + ", ".join(items) + "}\n"
    env: dict[str, Any] = {"iso": iso}
    exec(source, env)  # noqa: S102 - the source is made from the model's field names and the row's columns
    return cast(Callable[[Any], dict[str, Any]], env["write"])
