"""Calls: filtered lists, transcripts, recordings, and the rows every call is made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids
from emulator.domain.lookup import owned
from emulator.domain.paging import page
from emulator.errors import NotFound, Refused
from emulator.store import Account, Agent, Call, PhoneNumber, Store, Transcript

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
    return Transcript(id=row_id or ids.new_id("tx"), account_id=account_id, call_id=call_id, kind=kind,
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


async def get(session: AsyncSession, account_id: str, call_id: str) -> Call:
    return await owned(session, Call, account_id, call_id)


async def list_page(
    session: AsyncSession, account_id: str, limit: int, offset: int, *, status: str | None = None,
    direction: str | None = None, call_type: str | None = None, search: str | None = None,
    agent_id: str | None = None, number_id: str | None = None,
) -> tuple[list[Call], int]:
    query = select(Call).where(Call.account_id == account_id)
    if status:
        query = query.where(Call.status == status)
    if direction:
        query = query.where(Call.direction == direction)
    if call_type:
        query = query.where(Call.type == call_type)
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(or_(Call.from_number.like(pattern), Call.to_number.like(pattern)))
    if agent_id:
        query = query.where(Call.agent_id == agent_id)
    if number_id:
        query = query.where(Call.phone_number_id == number_id)
    return await page(session, query.order_by(Call.started_at.desc(), Call.pk.desc()), limit, offset)


@dataclass
class Listed:
    rows: list[Call]
    total: int
    recording: bool  # whether recording URLs show
    agent_names: dict[str, str]


async def listed(session: AsyncSession, account_id: str, limit: int, offset: int, **filters: Any) -> Listed:
    """A page of the account's calls (filters as `list_page` takes them), whether recordings show, and the names
    of their agents."""
    rows, total = await list_page(session, account_id, limit, offset, **filters)
    ids_ = {row.agent_id for row in rows if row.agent_id}
    names: dict[str, str] = {}
    if ids_:
        found = await session.execute(select(Agent.id, Agent.name).where(Agent.account_id == account_id,
                                                                         Agent.id.in_(ids_)))
        names = {agent_id: name for agent_id, name in found.all()}
    return Listed(rows, total, await recording_enabled(session, account_id), names)


async def transcripts(session: AsyncSession, call_id: str) -> list[Transcript]:
    query = select(Transcript).where(Transcript.call_id == call_id).order_by(Transcript.pk)
    return list((await session.execute(query)).scalars())


async def agent_name(session: AsyncSession, call: Call) -> str | None:
    if call.agent_id is None:
        return None
    query = select(Agent.name).where(Agent.id == call.agent_id, Agent.account_id == call.account_id)
    return (await session.execute(query)).scalar_one_or_none()


async def recording_enabled(session: AsyncSession, account_id: str) -> bool:
    """Whether the account's recording add-on is on (recording URLs are shown only then)."""
    flag = await session.execute(select(Account.recording_enabled).where(Account.id == account_id))
    return bool(flag.scalar_one_or_none())


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


async def abandon_unfinished(store: Store, now: datetime) -> int:
    """Calls left in progress by a previous process can never finish: mark them failed at start-up."""
    async with store.write() as session:
        result = await session.execute(
            update(Call).where(Call.status == "in-progress")
            .values(status="failed", end_reason="emulator-restarted", ended_at=now)
        )
    return cast(CursorResult[Any], result).rowcount or 0
