"""SQLAlchemy 2 models: one table per resource, naive-UTC timestamps, string IDs with prefixes.

Every table has an integer `pk` (insertion order, for stable sorting) and the
public string `id`. Rows belong to an account through `account_id`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from emulator.keys import KEY_LENGTH


class Base(DeclarativeBase):
    pass


# 64-bit integers everywhere (PostgreSQL's INTEGER is 32 bits; the control API allows balances up to 2^63-1).
# SQLite's integers are 64-bit already, and its primary key must be spelled INTEGER to be the rowid.
BigInt = BigInteger().with_variant(Integer, "sqlite")


def _pk() -> Mapped[int]:
    return mapped_column(BigInt, primary_key=True, autoincrement=True)


def _id() -> Mapped[str]:
    return mapped_column(String(64), unique=True, index=True)


def _partial(name: str, column: str, where: str) -> Index:
    """An index of the rows `where` holds for. Only SQLite's option is named here (naming PostgreSQL's would import
    that whole dialect into every process): `postgresql_partial_indexes` adds it before a PostgreSQL store creates
    its tables."""
    index = Index(name, column, sqlite_where=text(where))
    index.info["where"] = where
    return index


def postgresql_partial_indexes() -> None:
    """Give the partial indexes their PostgreSQL `WHERE` too (it imports the PostgreSQL dialect)."""
    for each in Base.metadata.tables.values():
        for index in each.indexes:
            if "where" in index.info:
                index.dialect_options["postgresql"]["where"] = text(index.info["where"])


def _account(index: bool = True) -> Mapped[str]:
    """The owning account; tables whose indexes all lead with it (calls, messages, deliveries) need no index of
    its own."""
    return mapped_column(String(64), index=index)


class Account(Base):
    __tablename__ = "accounts"
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    key: Mapped[str | None] = mapped_column(String(KEY_LENGTH), unique=True, nullable=True)
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    plan: Mapped[str] = mapped_column(String(32))
    balance_cents: Mapped[int] = mapped_column(BigInteger)
    recording_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    numbers_bought: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    webhook_events: Mapped[str | None] = mapped_column(String(16), nullable=True)  # None: the emulator's setting


class Agent(Base):
    __tablename__ = "agents"
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account()
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    voice_mode: Mapped[str] = mapped_column(String(16))
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    begin_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    voice: Mapped[str] = mapped_column(String(100))
    model_tier: Mapped[str] = mapped_column(String(16))
    enable_messaging: Mapped[bool] = mapped_column(Boolean)
    transfer_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    custom_tools: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    voicemail_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    call_screening_identity: Mapped[str | None] = mapped_column(Text, nullable=True)
    call_screening_purpose: Mapped[str | None] = mapped_column(Text, nullable=True)
    stt_mode: Mapped[str] = mapped_column(String(16))
    ambient_sound: Mapped[str] = mapped_column(String(32))
    denoising_mode: Mapped[str] = mapped_column(String(64))
    max_silence_ms: Mapped[int] = mapped_column(BigInteger)
    voice_speed: Mapped[float] = mapped_column(Float)
    interruption_sensitivity: Mapped[float] = mapped_column(Float)
    enable_backchannel: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PhoneNumber(Base):
    __tablename__ = "phone_numbers"
    __table_args__ = (
        _partial("ix_numbers_expiry", "expires_at", "status = 'active' AND expires_at IS NOT NULL"),
    )
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account()
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    phone_number: Mapped[str] = mapped_column(String(32), index=True)
    country: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(16), default="sms")
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attached_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    contact_card: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Webhook(Base):
    __tablename__ = "webhooks"
    __table_args__ = (UniqueConstraint("account_id", "agent_id"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account()
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="active")
    context_limit: Mapped[int] = mapped_column(BigInteger)
    timeout: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    event_types: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)  # None: the account's vocabulary


class Call(Base):
    __tablename__ = "calls"
    # Each list of calls (all, by status, direction, type, agent, number) reads its page in index order; a search
    # reads the calls of each number it matches in order, and those between two of them (emulator/domain/search.py).
    __table_args__ = (
        Index("ix_calls_account_time", "account_id", "started_at"),
        *(Index(f"ix_calls_account_{column}_time", "account_id", column, "started_at")
          for column in ("status", "direction", "type", "agent_id", "phone_number_id", "from_number", "to_number")),
        Index("ix_calls_account_from_to", "account_id", "from_number", "to_number"),
        _partial("ix_calls_in_progress", "status", "status = 'in-progress'"),
    )
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account(index=False)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    phone_number_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    phone_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    from_number: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(8), default="pstn")
    status: Mapped[str] = mapped_column(String(24))
    voice: Mapped[str | None] = mapped_column(String(100), nullable=True)
    initial_greeting: Mapped[str | None] = mapped_column(Text, nullable=True)
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    variables: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    call_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    duration_seconds: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_transcript_snippet: Mapped[str | None] = mapped_column(Text, nullable=True)
    recording_available: Mapped[bool] = mapped_column(Boolean, default=False)


class Transcript(Base):
    __tablename__ = "transcripts"
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account()
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="speech")
    transcript: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("phone_number_id", "participant"),
        Index("ix_conversations_account_latest", "account_id", "last_message_at"),
        Index("ix_conversations_account_agent_latest", "account_id", "agent_id", "last_message_at"),
    )
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account()
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    phone_number_id: Mapped[str] = mapped_column(String(64), index=True)
    phone_number: Mapped[str] = mapped_column(String(32))
    participant: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16), default="sms", server_default="sms")
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    message_count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_message_at: Mapped[datetime] = mapped_column(DateTime)
    last_message_preview: Mapped[str] = mapped_column(Text, default="")
    background: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    group_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # iMessage groups only


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_number_time", "phone_number_id", "received_at"),
        Index("ix_messages_conversation_time", "conversation_id", "received_at"),
        Index("ix_messages_account_time", "account_id", "received_at"),
    )
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account(index=False)
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    conversation_id: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    from_number: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="sms")
    media_urls: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)


class Delivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_deliveries_account_time", "account_id", "created_at"),
        Index("ix_deliveries_account_agent_time", "account_id", "agent_id", "created_at"),
        # The retries the sweeper looks for twice a second: only pending rows are in this index.
        _partial("ix_deliveries_retry", "next_retry_at", "status = 'pending'"),
    )
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account(index=False)
    webhook_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    event_type: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempt_count: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    next_retry_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Where processes share the database: the process (its lease, emulator/leases.py) that made or claimed the
    # attempt under way; if it dies, another process makes the delivery due again.
    claimed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("account_id", "phone_number"),)
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account()
    phone_number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Reaction(Base):
    __tablename__ = "reactions"
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account()
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    reaction: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    direction: Mapped[str] = mapped_column(String(16), default="outbound", server_default="outbound")
    from_number: Mapped[str | None] = mapped_column(String(64), nullable=True)  # inbound: who reacted


class Record(Base):
    """Small simulated resources (registrations, verifications, SIP trunks, feedback) as JSON documents."""

    __tablename__ = "records"
    pk: Mapped[int] = _pk()
    id: Mapped[str] = _id()
    account_id: Mapped[str] = _account()
    kind: Mapped[str] = mapped_column(String(32), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class DeliveryAttempt(Base):
    """One attempt of a delivery, as sent and as answered: the headers (the signature, never the secret), the body
    when it differs from the delivery's payload (a tampered-body fault, an edited redelivery), the reply."""

    __tablename__ = "webhook_delivery_attempts"
    pk: Mapped[int] = _pk()
    account_id: Mapped[str] = _account()
    delivery_id: Mapped[str] = mapped_column(String(64), index=True)
    turn_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)  # a voice turn's transcript
    number: Mapped[int] = mapped_column(BigInteger)  # 1, 2, ... within its delivery
    kind: Mapped[str] = mapped_column(String(16))  # first | retry | redeliver | edited
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_headers: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    request_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    http_status: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    streamed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    next_retry_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime)


def table(model: type[Base]) -> Table:
    """The Core table of a model, for statements that read rows as tuples instead of entities."""
    return cast(Table, model.__table__)


class SharedState(Base):
    """What each process holds in memory but every process on the database must agree on, one JSON document per
    kind (clock offsets, armed faults, callee scripts, accepted keys), and a version that changes with every
    change (emulator/shared.py)."""

    __tablename__ = "shared_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    body: Mapped[Any] = mapped_column(JSON, nullable=True)


class RateWindow(Base):
    """A key's requests in the last second, when several processes share the rate limit (emulator/shared.py)."""

    __tablename__ = "rate_windows"
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    hits: Mapped[list[float]] = mapped_column(JSON)
    last: Mapped[float] = mapped_column(Float, index=True)


class CallCommand(Base):
    """A request to a live call made in a process that does not run it (end it, say a driven caller's line):
    the process running the call carries it out and writes the answer back (emulator/calls/remote.py)."""

    __tablename__ = "call_commands"
    pk: Mapped[int] = _pk()
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # waiting | taken | answered
    body: Mapped[Any] = mapped_column(JSON, nullable=True)  # the request
    answer: Mapped[Any] = mapped_column(JSON, nullable=True)  # the response
    created_at: Mapped[datetime] = mapped_column(DateTime)


class JournalEntry(Base):
    """A `/v1` request in the request journal, when several processes share it (emulator/journal.py)."""

    __tablename__ = "journal_entries"
    __table_args__ = {"sqlite_autoincrement": True}  # numbers never come back, a reset's emptying included
    pk: Mapped[int] = _pk()  # the entry's sequence number
    stamp: Mapped[float] = mapped_column(Float)
    key: Mapped[str | None] = mapped_column(String(KEY_LENGTH), index=True, nullable=True)
    account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sub_account_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    raw_query: Mapped[bytes] = mapped_column(LargeBinary)
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    body_truncated: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float)


class HappeningRow(Base):
    """A happening for the activity log's live stream, when several processes share it (emulator/feed.py)."""

    __tablename__ = "happenings"
    __table_args__ = {"sqlite_autoincrement": True}  # a reader goes on after a reset's emptying
    pk: Mapped[int] = _pk()  # the happening's sequence number
    stamp: Mapped[float] = mapped_column(Float)  # when it happened, as time.time() (ordered with the journal)
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40))
    accounts: Mapped[str] = mapped_column(Text)  # a JSON list
    everyone: Mapped[bool] = mapped_column(Boolean)
    data: Mapped[str] = mapped_column(Text)  # a JSON object


class LiveProcess(Base):
    """A process serving a database others share, while it renews its lease (emulator/leases.py)."""

    __tablename__ = "live_processes"
    process: Mapped[str] = mapped_column(String(32), primary_key=True)
    pid: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[float] = mapped_column(Float)  # time.time() of the last renewal


class CallRunner(Base):
    """Which process runs a live call, where processes share the database (emulator/leases.py)."""

    __tablename__ = "call_runners"
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    process: Mapped[str] = mapped_column(String(32), index=True)
