"""Calls: filtered lists, transcripts, recordings, and the rows every call is made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.calls import rows
from emulator.domain.paging import Lister, Tally, Wire
from emulator.domain.search import NumberSearch
from emulator.domain.windows import Skip
from emulator.errors import NotFound, Refused, not_found
from emulator.store import Account, Agent, Call, PhoneNumber, Store, Transcript, sql
from emulator.store.documents import call_documents
from emulator.store.models import table
from emulator.store.rollups import call_tally, usage_buckets
from emulator.wire.calls import listed_sql, named_sql

STATUSES = ("registered", "ringing", "in-progress", "completed", "failed", "busy", "no-answer", "voicemail",
            "canceled")
LIVE = ("registered", "ringing", "in-progress")  # a call that has not ended yet
DEFAULT_WAIT_SECONDS = 300  # waiting for a call to end: the vendor's default, and the longest wait
MAX_WAIT_SECONDS = 600
DIRECTIONS = ("inbound", "outbound", "web")
TYPES = ("pstn", "web")


def transcript_row(account_id: str, call_id: str, kind: str, transcript: str, response: str | None, at: datetime, *,
                   confidence: float | None = None, details: dict[str, Any] | None = None,
                   row_id: str | None = None) -> Transcript:
    """One turn of a call (the engine's live turns and a fixture's past ones alike); empty details are dropped."""
    kept = {k: v for k, v in (details or {}).items() if v is not None and v != []}
    return rows.entity(Transcript, id=row_id or ids.new_id("tx"), account_id=account_id, call_id=call_id, kind=kind,
                       transcript=transcript, response=response, confidence=confidence, created_at=at,
                       details=kept or None)


def new_call(account_id: str, agent_id: str | None, number: PhoneNumber, from_number: str, to_number: str,
             direction: str, started_at: datetime, *, status: str = "in-progress", call_id: str | None = None,
             **fields: Any) -> Call:
    """A phone call on one of the account's numbers (placed, dialled in, or loaded from a fixture)."""
    return Call(
        id=call_id or ids.new_id("call"), account_id=account_id, agent_id=agent_id, phone_number_id=number.id,
        phone_number=number.phone_number, from_number=from_number, to_number=to_number, direction=direction,
        type="pstn", status=status, started_at=started_at, recording_available=False, **fields,
    )


CALLS = table(Call)
TRANSCRIPTS = table(Transcript)
_GET = sql.Query(select(CALLS).where(CALLS.c.id == bindparam("id"), CALLS.c.account_id == bindparam("account")))
_TRANSCRIPTS = sql.Query(select(TRANSCRIPTS).where(TRANSCRIPTS.c.call_id == bindparam("call"))
                         .order_by(TRANSCRIPTS.c.pk))
AGENTS, ACCOUNTS = table(Agent), table(Account)
_AGENT_NAME = sql.Query(select(AGENTS.c.name).where(AGENTS.c.id == bindparam("agent"),
                                                    AGENTS.c.account_id == bindparam("account")))
_AGENT_NAMES = sql.Query(select(AGENTS.c.id, AGENTS.c.name).where(
    AGENTS.c.account_id == bindparam("account"), AGENTS.c.id.in_(bindparam("agents", expanding=True))))
# What a listed call shows (emulator/wire/calls.py `call`): a page reads no prompt, greeting, variables or metadata.
LISTED = ("id", "account_id", "agent_id", "phone_number_id", "phone_number", "from_number", "to_number", "direction",
          "type", "status", "voice", "started_at", "ended_at", "duration_seconds", "last_transcript_snippet",
          "end_reason", "recording_available")
_RECORDING = sql.Query(select(ACCOUNTS.c.recording_enabled).where(ACCOUNTS.c.id == bindparam("account")))
_LIST = Lister(CALLS, [CALLS.c.account_id == bindparam("account")], [CALLS.c.started_at.desc(), CALLS.c.pk.desc()], {
    "status": lambda value: CALLS.c.status == value,
    "direction": lambda value: CALLS.c.direction == value,
    "call_type": lambda value: CALLS.c.type == value,
    "search": lambda value: or_(CALLS.c.from_number.like(value), CALLS.c.to_number.like(value)),
    "agent_id": lambda value: CALLS.c.agent_id == value,
    "number_id": lambda value: CALLS.c.phone_number_id == value,
    "older_than": lambda value: CALLS.c.started_at < value,
}, columns=LISTED, wire=Wire(("id", "agent_id", "recording_available"), listed_sql(CALLS), call_documents,
                             lambda document: named_sql(document, CALLS, AGENTS)))
# A deep page of the unfiltered list starts where the day and hour buckets say (windows.Skip).
_SKIP = Skip(usage_buckets, usage_buckets.c.kind == "call")
DEEP = 1000  # offsets from which a page is located from the buckets


# The total of a list with equality filters is a sum over the call tally (a few rows per agent and number).
_TOTAL = Tally(call_tally, "calls", {"status": "status", "direction": "direction", "call_type": "type",
                                     "agent_id": "agent_id", "number_id": "phone_number_id"})
SEARCH = NumberSearch(_LIST, _TOTAL)


async def get(session: AsyncSession, account_id: str, call_id: str) -> Any:
    """The account's call as a row (read-only), or the 404."""
    row = await sql.first(session, _GET, id=call_id, account=account_id)
    if row is None:
        raise not_found("Call", call_id)
    return row


async def list_page(
    session: AsyncSession, account_id: str, limit: int, offset: int, *, status: str | None = None,
    direction: str | None = None, call_type: str | None = None, search: str | None = None,
    agent_id: str | None = None, number_id: str | None = None,
) -> tuple[list[Any], int]:
    filters = {"status": status or None, "direction": direction or None, "call_type": call_type or None,
               "agent_id": agent_id or None, "number_id": number_id or None}
    if search:  # from the index of numbers where it can serve the text (emulator/domain/search.py)
        searched = await SEARCH.page(session, account_id, limit, offset, search.strip(), filters)
        if searched is not None:
            return searched
    pattern = f"%{search.strip()}%" if search else None
    if pattern is None and offset >= DEEP and not any(filters.values()):
        found = await _SKIP.locate(session, offset, account=account_id)
        rows = [] if found is None else await _LIST.rows(session, limit, found[1], account=account_id,
                                                         older_than=found[0])
    else:
        rows = await _LIST.rows(session, limit, offset, account=account_id, search=pattern, **filters)
    if pattern is not None:  # a text search has no rollup: its matches are counted
        return rows, await _LIST.count(session, account=account_id, search=pattern, **filters)
    return rows, await _TOTAL.total(session, account_id, **filters)


@dataclass
class Listed:
    rows: list[Any]  # call rows (read-only)
    total: int
    recording: bool  # whether recording URLs show
    agent_names: dict[str, str]


async def listed(session: AsyncSession, account_id: str, limit: int, offset: int, **filters: Any) -> Listed:
    """A page of the account's calls (filters as `list_page` takes them), whether recordings show, and the names
    of their agents."""
    rows, total = await list_page(session, account_id, limit, offset, **filters)
    ids_ = sorted({row.agent_id for row in rows if row.agent_id})
    names: dict[str, str] = {}
    if ids_ and getattr(rows[0], "wire", None) is None:  # rows SQLite wrote as JSON hold their agent's name
        names = dict(await sql.rows(session, _AGENT_NAMES, account=account_id, agents=ids_))
    return Listed(rows, total, await recording_enabled(session, account_id), names)


async def transcripts(session: AsyncSession, call_id: str) -> list[Any]:
    return await sql.rows(session, _TRANSCRIPTS, call=call_id)


async def agent_name(session: AsyncSession, call: Any) -> str | None:
    if call.agent_id is None:
        return None
    name: str | None = await sql.value(session, _AGENT_NAME, agent=call.agent_id, account=call.account_id)
    return name


async def recording_enabled(session: AsyncSession, account_id: str) -> bool:
    """Whether the account's recording add-on is on (recording URLs are shown only then)."""
    return bool(await sql.value(session, _RECORDING, account=account_id))


async def recording_of(session: AsyncSession, call_id: str) -> Call:
    """The call whose recording is asked for; the call ID is the access token, so any account's call counts."""
    row = await session.scalar(select(Call).where(Call.id == call_id))
    if row is None or not row.recording_available or not await recording_enabled(session, row.account_id):
        raise NotFound(f"Call '{call_id}' has no recording (recording is an account add-on, off by default).")
    return row


def check_endable(call: Call) -> None:
    if call.status == "registered":
        raise Refused(f"Call '{call.id}' has not started: a web call stays 'registered' until a client "
                      "joins it with its access token.")
    if call.status != "in-progress":
        raise Refused(f"Call '{call.id}' already ended with status '{call.status}'.")


# A Core statement: start-up then needs no ORM mapper configured.
_ABANDON = sql.Query(update(CALLS).where(CALLS.c.status == "in-progress")
                     .values(status="failed", end_reason="emulator-restarted", ended_at=bindparam("now")))


async def abandon_unfinished(store: Store, now: datetime) -> int:
    """Calls left in progress by a previous process can never finish: mark them failed at start-up."""
    async with store.write() as session:
        return await sql.run(session, _ABANDON, now=now)
