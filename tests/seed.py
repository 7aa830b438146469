"""Seed rows straight into the running emulator's SQLite file, for the read-side APIs.

Calls, transcripts, conversations and messages are normally produced by the call
and SMS engines; the read APIs only need the rows, so tests insert them with
sqlite3 in the store's own format (naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff').
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
E164_NANP = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def stored(dt: datetime) -> str:
    """The text form SQLAlchemy's DateTime uses in SQLite."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


def iso(dt: datetime) -> str:
    """The form the API sends: ISO-8601 UTC with milliseconds and Z."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def account_id(control: httpx.Client, key: str) -> str:
    resp = control.get(f"/_emulator/accounts/{key}")
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def upgrade(control: httpx.Client, key: str, plan: str = "scale", balance_cents: int = 1_000_000) -> None:
    resp = control.patch(f"/_emulator/accounts/{key}", json={"plan": plan, "balanceCents": balance_cents})
    assert resp.status_code == 200, resp.text


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class Seeder:
    """Inserts rows for one account; every method returns the new row's public ID."""

    def __init__(self, db: str, account: str) -> None:
        self.db = db
        self.account = account

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            with conn:
                yield conn
        finally:
            conn.close()

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._conn() as conn:
            conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))

    def call(
        self, *, from_number: str = "+14155550100", to_number: str = "+14155550199", direction: str = "inbound",
        status: str = "completed", agent_id: str | None = None, number_id: str | None = None,
        phone_number: str | None = None, started_at: datetime | None = None, duration: int | None = 42,
        snippet: str | None = "Goodbye!", call_type: str = "pstn",
    ) -> str:
        ident = new_id("call")
        start = started_at or utcnow()
        ended = start + timedelta(seconds=duration) if duration is not None else None
        self._insert("calls", {
            "id": ident, "account_id": self.account, "agent_id": agent_id, "phone_number_id": number_id,
            "phone_number": phone_number, "from_number": from_number, "to_number": to_number,
            "direction": direction, "type": call_type, "status": status, "voice": "11labs-Brian",
            "started_at": stored(start), "ended_at": stored(ended) if ended else None,
            "duration_seconds": duration, "last_transcript_snippet": snippet, "recording_available": 0,
        })
        return ident

    def transcript(self, call_id: str, text: str, response: str | None = None, confidence: float | None = 0.9,
                   at: datetime | None = None) -> str:
        ident = new_id("tx")
        self._insert("transcripts", {
            "id": ident, "account_id": self.account, "call_id": call_id, "kind": "speech", "transcript": text,
            "response": response, "confidence": confidence, "created_at": stored(at or utcnow()),
        })
        return ident

    def conversation(self, *, number_id: str, phone_number: str, participant: str, agent_id: str | None = None,
                     last_message_at: datetime | None = None, preview: str = "", count: int = 0,
                     state: dict[str, Any] | None = None) -> str:
        ident = new_id("conv")
        last = last_message_at or utcnow()
        self._insert("conversations", {
            "id": ident, "account_id": self.account, "agent_id": agent_id, "phone_number_id": number_id,
            "phone_number": phone_number, "participant": participant,
            "state": json.dumps(state) if state is not None else None, "message_count": count,
            "last_message_at": stored(last), "last_message_preview": preview, "created_at": stored(last),
        })
        return ident

    def message(self, *, conversation_id: str, number_id: str, from_number: str, to_number: str, body: str,
                at: datetime, direction: str = "inbound", status: str = "received", channel: str = "sms",
                agent_id: str | None = None) -> str:
        ident = new_id("msg")
        self._insert("messages", {
            "id": ident, "account_id": self.account, "agent_id": agent_id, "conversation_id": conversation_id,
            "phone_number_id": number_id, "from_number": from_number, "to_number": to_number, "body": body,
            "direction": direction, "status": status, "channel": channel, "received_at": stored(at),
        })
        return ident
