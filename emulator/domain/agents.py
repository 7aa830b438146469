"""Agents: settings with vendor defaults, hosted-mode rules, numbers attached to one agent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.domain.lookup import owned
from emulator.errors import Invalid, Refused, not_found
from emulator.store import Agent, Call, Conversation, Message, PhoneNumber, Webhook, sql
from emulator.store.documents import agent_documents
from emulator.store.models import table
from emulator.urls import check_url
from emulator.wire.agents import DEFAULTS, NULLABLE, AgentFields, UpdateAgent, document_sql

# Reads and the insert run as Core statements on rows (emulator/store/sql.py); the rare updates and the
# delete use the ORM entity (`_entity`).
AGENTS = table(Agent)
NUMBERS = table(PhoneNumber)
_GET = sql.Query(select(AGENTS).where(AGENTS.c.id == bindparam("id"), AGENTS.c.account_id == bindparam("account")))
_PAGE = sql.Query(select(AGENTS).where(AGENTS.c.account_id == bindparam("account")).order_by(AGENTS.c.pk.desc())
                  .limit(bindparam("limit")).offset(bindparam("offset")))
# Agents as the JSON text SQLite keeps for them (where it can: `sql.renders_json`), the agent with its numbers
# (emulator/store/documents.py; emulator/wire/agents.py `written`), written at once for a row without one.
_WRITTEN: tuple[Any, ...] = (
    literal_column(f"coalesce({agent_documents.name}.body, {document_sql(AGENTS, NUMBERS)})").label("wire"),)
_WITH_DOCUMENTS = AGENTS.outerjoin(agent_documents, agent_documents.c.pk == AGENTS.c.pk)
_COUNTED = AGENTS.alias("counted")
_TOTAL = (select(func.count()).select_from(_COUNTED).where(_COUNTED.c.account_id == bindparam("account"))
          .scalar_subquery().label("total"))  # not correlated: SQLite counts once per statement
_PAGE_JSON = sql.Query(select(*_WRITTEN, _TOTAL).select_from(_WITH_DOCUMENTS)
                       .where(AGENTS.c.account_id == bindparam("account"))
                       .order_by(AGENTS.c.pk.desc()).limit(bindparam("limit")).offset(bindparam("offset")))
_GET_JSON = sql.Query(select(*_WRITTEN).select_from(_WITH_DOCUMENTS)
                      .where(AGENTS.c.id == bindparam("id"), AGENTS.c.account_id == bindparam("account")))
_COUNT = sql.Query(select(func.count()).select_from(AGENTS).where(AGENTS.c.account_id == bindparam("account")))
_ATTACHED = sql.Query(select(NUMBERS).where(NUMBERS.c.agent_id.in_(bindparam("agents", expanding=True)),
                                            NUMBERS.c.status == "active")
                      .order_by(NUMBERS.c.attached_at, NUMBERS.c.pk))
# What a listed agent shows of its numbers.
_LISTED_NUMBERS = sql.Query(
    select(NUMBERS.c.agent_id, NUMBERS.c.id, NUMBERS.c.phone_number, NUMBERS.c.status, NUMBERS.c.type)
    .where(NUMBERS.c.agent_id.in_(bindparam("agents", expanding=True)), NUMBERS.c.status == "active")
    .order_by(NUMBERS.c.attached_at, NUMBERS.c.pk))
_INSERT = sql.Insert(AGENTS)
# An agent with its active numbers in one statement (one row per number, or one row with no number).
_NUMBER_COLUMNS = ("id", "phone_number", "status", "type")
_WITH_NUMBERS = sql.Query(
    select(AGENTS, *(NUMBERS.c[name].label(f"number_{name}") for name in _NUMBER_COLUMNS))
    .select_from(AGENTS.outerjoin(NUMBERS, and_(NUMBERS.c.agent_id == AGENTS.c.id, NUMBERS.c.status == "active")))
    .where(AGENTS.c.id == bindparam("id"), AGENTS.c.account_id == bindparam("account"))
    .order_by(NUMBERS.c.attached_at, NUMBERS.c.pk))

# An agent's first active number (its caller ID), whole: one row with the number's columns all null when it has
# none, no row when there is no such agent.
_FIRST_NUMBER = sql.Query(
    select(*NUMBERS.c)
    .select_from(AGENTS.outerjoin(NUMBERS, and_(NUMBERS.c.agent_id == AGENTS.c.id, NUMBERS.c.status == "active")))
    .where(AGENTS.c.id == bindparam("id"), AGENTS.c.account_id == bindparam("account"))
    .order_by(NUMBERS.c.attached_at, NUMBERS.c.pk).limit(1))


class AttachedNumber(NamedTuple):
    id: str
    phone_number: str
    status: str
    type: str


async def get(session: AsyncSession, account_id: str, agent_id: str) -> Any:
    """The account's agent as a row (read-only), or the 404."""
    row = await sql.first(session, _GET, id=agent_id, account=account_id)
    if row is None:
        raise not_found("Agent", agent_id)
    return row


async def with_numbers(session: AsyncSession, account_id: str, agent_id: str) -> tuple[Any, list[Any]]:
    """The account's agent (a row) and its active numbers (id, phone_number, status, type), or the 404."""
    found = await sql.rows(session, _WITH_NUMBERS, id=agent_id, account=account_id)
    if not found:
        raise not_found("Agent", agent_id)
    numbers = [AttachedNumber(row.number_id, row.number_phone_number, row.number_status, row.number_type)
               for row in found if row.number_id is not None]
    return found[0], numbers


async def first_number(session: AsyncSession, account_id: str, agent_id: str) -> Any:
    """The account's agent's first active number (a row; the one it sends and calls from), None when it has none,
    or the agent's 404."""
    row = await sql.first(session, _FIRST_NUMBER, id=agent_id, account=account_id)
    if row is None:
        raise not_found("Agent", agent_id)
    return row if row.id is not None else None


async def _entity(session: AsyncSession, account_id: str, agent_id: str) -> Agent:
    return await owned(session, Agent, account_id, agent_id)


async def numbers_of(session: AsyncSession, agent_ids: Iterable[str]) -> dict[str, list[Any]]:
    """Active numbers per agent (rows), in the order they were attached (the first is the caller ID)."""
    wanted = list(agent_ids)
    out: dict[str, list[Any]] = {agent_id: [] for agent_id in wanted}
    if not wanted:
        return out
    for number in await sql.rows(session, _ATTACHED, agents=wanted):
        out[number.agent_id or ""].append(number)
    return out


async def list_page(session: AsyncSession, account_id: str, limit: int,
                    offset: int) -> tuple[list[Any], dict[str, list[Any]], int]:
    """A page of the account's agents, newest first, their active numbers, and their total. Where SQLite writes
    them as JSON the rows are their documents (JSON text, emulator/store/documents.py) and the numbers given are
    none; else whole rows, and each one's numbers (id, phone_number, status, type)."""
    if sql.renders_json(session):
        written = await sql.tuples(session, _PAGE_JSON, account=account_id, limit=limit, offset=offset)
        if written:  # the page's statement counted them too
            return [document for document, _total in written], {}, written[0][1]
        rows: list[Any] = []
        numbers: dict[str, list[Any]] = {}
    else:
        rows = await sql.rows(session, _PAGE, account=account_id, limit=limit, offset=offset)
        numbers = {row.id: [] for row in rows}
        if rows:
            for number in await sql.rows(session, _LISTED_NUMBERS, agents=list(numbers)):
                numbers[number.agent_id].append(number)
    return rows, numbers, await sql.value(session, _COUNT, account=account_id)


async def written(session: AsyncSession, account_id: str, agent_id: str) -> Any:
    """The account's agent as SQLite writes it (a `written` row, emulator/wire/agents.py), or the 404; None where
    the store does not write JSON (use `with_numbers`)."""
    if not sql.renders_json(session):
        return None
    row = await sql.first(session, _GET_JSON, id=agent_id, account=account_id)
    if row is None:
        raise not_found("Agent", agent_id)
    return row


def check(values: dict[str, Any], merged: bool = False) -> None:
    """The settings' rules; `merged` (a change on top of an agent's settings): a hosted agent left without a
    prompt is a 400, as the agent's current settings have their part in it."""
    if values.get("voice_mode") == "hosted" and not (values.get("system_prompt") or "").strip():
        raise (Refused if merged else Invalid)("A hosted-mode agent needs a 'systemPrompt': the built-in LLM "
                                               "answers calls with it.")
    if values.get("transfer_number") is not None:
        phones.require_e164(values["transfer_number"], "transferNumber")
    for i, tool in enumerate(values.get("custom_tools") or []):
        check_url(tool["url"], f"customTools[{i}].url")


async def create(session: AsyncSession, account_id: str, req: AgentFields, now: datetime, *,
                 agent_id: str | None = None) -> Any:
    """A new agent (a row) with the vendor defaults for every setting not given (`agent_id`: a fixture's own ID)."""
    values = {**DEFAULTS, **{k: v for k, v in req.settings().items() if v is not None or k in NULLABLE}}
    check(values)
    return await sql.insert(session, _INSERT, id=agent_id or ids.new_id("agent"), account_id=account_id,
                            created_at=now, updated_at=now, **values)


async def update_agent(session: AsyncSession, account_id: str, agent_id: str, req: UpdateAgent,
                       now: datetime) -> Agent:
    agent = await _entity(session, account_id, agent_id)
    changes = req.settings()
    for name, value in changes.items():
        if value is None and name not in NULLABLE:
            raise Invalid(f"Field '{_camel(name)}' cannot be null; leave it out to keep the current value.")
    if changes.get("voice_mode") == "hosted" and "system_prompt" in changes:  # the request's own mistake: 422
        check({"voice_mode": "hosted", "system_prompt": changes["system_prompt"]})
    merged = {name: getattr(agent, name) for name in DEFAULTS} | changes
    check(merged, merged=True)
    for name, value in changes.items():
        setattr(agent, name, value)
    agent.updated_at = now
    await session.flush()
    return agent


async def delete(session: AsyncSession, account_id: str, agent_id: str) -> tuple[Agent, list[str]]:
    """Delete the agent; its numbers, conversations and calls stay with their agent cleared."""
    agent = await _entity(session, account_id, agent_id)
    numbers = (await numbers_of(session, [agent_id]))[agent_id]
    unassigned = [number.id for number in numbers]
    for model in (PhoneNumber, Conversation, Call, Message):
        await session.execute(update(model).where(model.agent_id == agent_id).values(agent_id=None))
    webhook = (await session.execute(select(Webhook).where(Webhook.agent_id == agent_id))).scalar_one_or_none()
    if webhook is not None:
        await session.delete(webhook)
    await session.delete(agent)
    await session.flush()
    return agent, unassigned


async def attach(session: AsyncSession, account_id: str, agent_id: str, number_id: str,
                 now: datetime) -> PhoneNumber:
    """Attach a number; a number belongs to one agent, so attaching moves it from any other."""
    await get(session, account_id, agent_id)
    number = await owned(session, PhoneNumber, account_id, number_id)
    if number.status != "active":
        raise Refused(f"Number '{number_id}' is {number.status} and cannot be attached to an agent.")
    if number.agent_id != agent_id:
        number.agent_id = agent_id
        number.attached_at = now
    await session.flush()
    return number


async def detach(session: AsyncSession, account_id: str, agent_id: str, number_id: str) -> PhoneNumber:
    await get(session, account_id, agent_id)
    number = await owned(session, PhoneNumber, account_id, number_id)
    if number.agent_id != agent_id:
        raise Refused(f"Number '{number_id}' is not attached to agent '{agent_id}'.")
    number.agent_id = None
    number.attached_at = None
    await session.flush()
    return number


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
