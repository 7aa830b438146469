"""Product feedback on the wire."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from emulator.clock import iso
from emulator.store import Record
from emulator.wire.base import Json, Out, SnakeModel, Timestamp


class Feedback(SnakeModel):
    category: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(min_length=1, max_length=10_000)]
    request_id: str | None = None
    url: str | None = None
    tags: Annotated[list[str], Field(max_length=20)] | None = None


class FeedbackReceived(Out):
    success: bool
    id: str
    received_at: Timestamp


class FeedbackLog(Out):
    data: list[Json]


def received(row: Record) -> dict[str, Any]:
    return {"success": True, "id": row.id, "receivedAt": iso(row.created_at)}


def log(rows: list[Record]) -> dict[str, Any]:
    return {"data": [{"id": r.id, "accountId": r.account_id, **r.data, "receivedAt": iso(r.created_at)}
                     for r in rows]}
