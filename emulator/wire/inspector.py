"""What the inspector reads and sends through the control API: accounts at a glance, deliveries with every
attempt, a call's timeline, the request journal, the live stream of happenings, redeliveries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from emulator.activity import Happening, mask_key
from emulator.clock import iso
from emulator.journal import Entry
from emulator.store import Account as AccountRow
from emulator.store import Delivery as DeliveryRow
from emulator.store import DeliveryAttempt as AttemptRow
from emulator.store import Transcript as TranscriptRow
from emulator.wire.base import Json, Model, Out, Timestamp
from emulator.wire.calls import Transcript, transcript
from emulator.wire.webhooks import Delivery, delivery

REDELIVERY_BODY = 256 * 1024

# --- requests ----------------------------------------------------------------------------------------------


class Redeliver(Model):
    """Send a delivery again: as stored, or with `body` instead (signed afresh over the new bytes)."""

    body: Annotated[str, Field(max_length=REDELIVERY_BODY)] | None = None


# --- responses ---------------------------------------------------------------------------------------------


class AccountSummary(Out):
    """An account at a glance. `key` is the account's full API key (the admin's view); sub-accounts have none
    and are reached with their parent's key and `X-Sub-Account-Id`."""

    id: str
    key: str | None
    key_hint: str | None
    name: str | None
    parent_id: str | None
    plan: str
    balance_cents: int
    recording_enabled: bool
    created_at: Timestamp
    agents: int
    numbers: int
    calls: int
    live_calls: int
    conversations: int
    deliveries: int


class AccountList(Out):
    data: list[AccountSummary]
    total: int


class Attempt(Out):
    """One attempt of a delivery as sent (headers with the signature, never the secret; the exact body) and as
    answered (status, the reply's first 1000 characters, latency); `nextRetryAt` when it left a retry due."""

    number: int
    kind: Literal["first", "retry", "redeliver", "edited"]
    attempted_at: Timestamp
    url: str | None
    request_headers: dict[str, str] | None
    request_body: str
    body_changed: bool  # the body sent was not the stored payload (a tampered-body fault, an edited redelivery)
    http_status: int | None
    error_message: str | None
    response_body: str | None
    content_type: str | None
    streamed: bool | None
    latency_ms: float | None
    next_retry_at: Timestamp | None
    turn_id: str | None


class DeliveryDetail(Delivery):
    payload: str
    attempts: list[Attempt]


class Redelivered(Out):
    attempt: Attempt
    delivery: DeliveryDetail


class TimelineTurn(Out):
    """A call's turn as the timeline shows it: the transcript row and the voice delivery that asked the agent."""

    turn: Transcript
    delivery: DeliveryDetail | None


class JournalEntry(Out):
    seq: int
    time: Timestamp
    method: str
    path: str
    query: dict[str, str | list[str]]
    body: Any
    body_truncated: bool
    status: int | None
    duration_ms: float
    key_hint: str | None
    account_id: str | None
    sub_account_id: str | None


class RequestJournal(Out):
    """Journaled /v1 requests; `lastSeq` is the newest matching entry's number (pass it as `since`)."""

    data: list[JournalEntry]
    total: int
    last_seq: int


class HappeningOut(Out):
    """One happening: `accounts` it is about; `everyone` when it is about the whole emulator."""

    seq: int
    kind: str
    text: str
    at: Timestamp
    accounts: list[str]
    everyone: bool
    data: Json


# --- rendering ---------------------------------------------------------------------------------------------


def account(row: AccountRow, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": row.id, "key": row.key, "keyHint": mask_key(row.key), "name": row.name, "parentId": row.parent_id,
        "plan": row.plan, "balanceCents": row.balance_cents, "recordingEnabled": row.recording_enabled,
        "createdAt": iso(row.created_at),
        **{name: counts.get(name, 0) for name in ("agents", "numbers", "calls", "liveCalls", "conversations",
                                                  "deliveries")},
    }


def account_list(rows: list[tuple[AccountRow, dict[str, int]]]) -> dict[str, Any]:
    return {"data": [account(row, counts) for row, counts in rows], "total": len(rows)}


def attempt(row: AttemptRow, payload: str) -> dict[str, Any]:
    return {
        "number": row.number, "kind": row.kind, "attemptedAt": iso(row.attempted_at), "url": row.url,
        "requestHeaders": row.request_headers, "requestBody": payload if row.request_body is None else row.request_body,
        "bodyChanged": row.request_body is not None, "httpStatus": row.http_status,
        "errorMessage": row.error_message, "responseBody": row.response_body, "contentType": row.content_type,
        "streamed": row.streamed, "latencyMs": row.latency_ms, "nextRetryAt": iso(row.next_retry_at),
        "turnId": row.turn_id,
    }


def delivery_detail(row: DeliveryRow, attempts: list[AttemptRow]) -> dict[str, Any]:
    ordered = sorted(attempts, key=lambda a: a.number)
    return {**delivery(row), "payload": row.payload, "attempts": [attempt(a, row.payload) for a in ordered]}


def redelivered(row: DeliveryRow, attempts: list[AttemptRow], made: AttemptRow) -> dict[str, Any]:
    return {"attempt": attempt(made, row.payload), "delivery": delivery_detail(row, attempts)}


def timeline_turn(row: TranscriptRow, voice: DeliveryRow | None, attempts: list[AttemptRow]) -> dict[str, Any]:
    return {"turn": transcript(row), "delivery": delivery_detail(voice, attempts) if voice is not None else None}


def journal_entry(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq, "time": iso(entry.at), "method": entry.method, "path": entry.path, "query": entry.query,
        "body": entry.body, "bodyTruncated": entry.body_truncated, "status": entry.status,
        "durationMs": entry.duration_ms, "keyHint": mask_key(entry.key), "accountId": entry.account_id,
        "subAccountId": entry.sub_account_id,
    }


def journal(entries: list[Entry], total: int, last_seq: int) -> dict[str, Any]:
    return {"data": [journal_entry(e) for e in entries], "total": total, "lastSeq": last_seq}


def happening(item: Happening) -> dict[str, Any]:
    return {"seq": item.seq, "kind": item.kind, "text": item.text, "at": item.at, "accounts": sorted(item.accounts),
            "everyone": item.everyone, "data": item.data}
