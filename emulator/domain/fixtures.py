"""Loading fixtures: each fixture account replaces the account of its key, built by the same domain functions
the API uses (so a fixture conversation on an iMessage number holds iMessage messages, as a real one would).

The format is `emulator/wire/fixtures.py`; reading files is `emulator/fixture_files.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import phones
from emulator.clock import parse_iso
from emulator.domain import accounts, agents, calls, messaging, numbers, webhooks, whatsapp
from emulator.errors import Conflict, Invalid, Problem, Refused
from emulator.plans import PLANS
from emulator.store import Account, Agent, Call, Conversation, Message, PhoneNumber, Record, Transcript, Webhook
from emulator.urls import check_urls
from emulator.validation import describe
from emulator.wire.fixtures import FixtureFile, FxAccount, FxCall, FxConversation, FxWebhook, FxWhatsApp

COUNTED = ("accounts", "agents", "numbers", "conversations", "messages", "calls")


def validate(data: dict[str, Any], source: str = "fixture") -> FixtureFile:
    try:
        fixture = FixtureFile.model_validate(data)
    except ValidationError as exc:
        raise Invalid(f"{source}: {describe(exc)}") from None
    _check_consistent(fixture, source)
    return fixture


def _check_consistent(fixture: FixtureFile, source: str) -> None:
    """Within one fixture: keys, IDs and active phone numbers unique; numbers point at its own agents."""
    seen: dict[tuple[str, str], str] = {}

    def once(kind: str, value: str | None, where: str) -> None:
        if value is None:
            return
        if (kind, value) in seen:
            raise Conflict(f"{source}: {where} repeats the {kind} {value!r} of {seen[(kind, value)]}.")
        seen[(kind, value)] = where

    for i, account in enumerate(fixture.accounts):
        base = f"accounts[{i}]"
        once("key", account.key, base)
        once("id", account.id, base)
        hooks = [(f"{base}.webhook", account.webhook)] + [(f"{base}.agents[{j}].webhook", a.webhook)
                                                          for j, a in enumerate(account.agents)]
        for where, hook in hooks:
            once("id", hook.id if hook else None, where)
        agent_ids = set()
        for j, agent in enumerate(account.agents):
            once("id", agent.id, f"{base}.agents[{j}]")
            agent_ids.add(agent.id)
        for j, number in enumerate(account.numbers):
            where = f"{base}.numbers[{j}]"
            once("id", number.id, where)
            if number.status == "active":
                once("phone number", number.phone_number, where)
            if number.agent_id is not None and number.agent_id not in agent_ids:
                raise Refused(f"{source}: {where}.agentId {number.agent_id!r} is not an agent of this account.")
        for j, conv in enumerate(account.conversations):
            once("id", conv.id, f"{base}.conversations[{j}]")
            for k, message in enumerate(conv.messages):
                once("id", message.id, f"{base}.conversations[{j}].messages[{k}]")
        for j, call in enumerate(account.calls):
            once("id", call.id, f"{base}.calls[{j}]")
            if call.agent_id is not None and call.agent_id not in agent_ids:
                raise Refused(f"{source}: {base}.calls[{j}].agentId {call.agent_id!r} is not an agent of this account.")
            for k, row in enumerate(call.transcripts):
                once("id", row.id, f"{base}.calls[{j}].transcripts[{k}]")


@dataclass
class Loaded:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    replaced: list[str] = field(default_factory=list)  # IDs of the accounts the fixture replaced
    keys: list[str] = field(default_factory=list)


async def replaced_accounts(session: AsyncSession, fixture: FixtureFile) -> list[str]:
    """The accounts (and their sub-accounts) that loading `fixture` replaces."""
    out: list[str] = []
    for fx in fixture.accounts:
        existing = await accounts.find_by_key(session, fx.key)
        if existing is not None:
            out += await accounts.family(session, existing.id)
    return out


async def load(session: AsyncSession, fixture: FixtureFile, now: datetime) -> Loaded:
    """Replace the named accounts with the fixture's state (in the caller's transaction)."""
    result = Loaded(replaced=await replaced_accounts(session, fixture))
    await accounts.remove(session, result.replaced)
    for index, fx in enumerate(fixture.accounts):
        try:
            await _load_account(session, fx, now, result.counts)
        except Problem as exc:  # say which account of the file the problem is in
            exc.detail = f"accounts[{index}] ({fx.key}): {exc.detail}"
            raise
        result.keys.append(fx.key)
    return result


def _time(value: str | None, default: datetime, where: str) -> datetime:
    if value is None:
        return default
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        raise Invalid(f"{where} must be an ISO-8601 timestamp (got {value!r}).") from None


def _written_ids(fx: FxAccount) -> list[tuple[Any, str]]:
    """(model, ID) of every row the account's fixture gives an explicit ID."""
    found: list[tuple[Any, str | None]] = [(Account, fx.id)]
    found += [(Webhook, h.id) for h in (fx.webhook, *(a.webhook for a in fx.agents)) if h is not None]
    found += [(Agent, a.id) for a in fx.agents] + [(PhoneNumber, n.id) for n in fx.numbers]
    for conv in fx.conversations:
        found += [(Conversation, conv.id), *((Message, m.id) for m in conv.messages)]
    for call in fx.calls:
        found += [(Call, call.id), *((Transcript, t.id) for t in call.transcripts)]
    for fw in fx.whatsapp:
        found += [(Record, fw.id), *((PhoneNumber, n.number_id) for n in fw.numbers)]
    return [(model, ident) for model, ident in found if ident]


async def _refuse_taken(session: AsyncSession, fx: FxAccount) -> None:
    """IDs are global: one another account already uses is a conflict (this key's old rows are gone by now)."""
    for model, ident in _written_ids(fx):
        if await session.scalar(select(model.id).where(model.id == ident)) is not None:
            raise Conflict(f"ID '{ident}' already belongs to another account; fixture IDs must be unique.")


async def _webhook(session: AsyncSession, account_id: str, agent_id: str | None, fx: FxWebhook, now: datetime) -> None:
    await webhooks.put(session, account_id, agent_id, fx.url, now, context_limit=fx.context_limit,
                       timeout=fx.timeout, hook_id=fx.id, secret=fx.secret, event_types=fx.event_types)


async def _load_account(session: AsyncSession, fx: FxAccount, now: datetime, counts: dict[str, int]) -> None:
    if not accounts.is_key(fx.key):
        raise Invalid(f"Field 'key' must be an API key like sk_test_... (got {fx.key!r}).")
    if fx.plan not in PLANS:
        raise Invalid(f"Account {fx.key}: plan must be one of {', '.join(PLANS)} (got {fx.plan!r}).")
    await _refuse_taken(session, fx)
    account = accounts.new_account(fx.key, fx.plan, fx.balance_cents, now, account_id=fx.id)
    account.recording_enabled = fx.recording_enabled
    account.webhook_events = fx.webhook_events
    account.numbers_bought = len(fx.numbers)
    session.add(account)
    await session.flush()
    if fx.webhook:
        await _webhook(session, account.id, None, fx.webhook, now)
    for fa in fx.agents:
        agent = await agents.create(session, account.id, fa, now, agent_id=fa.id)
        if fa.webhook:
            await _webhook(session, account.id, agent.id, fa.webhook, now)
        counts["agents"] += 1
    by_id: dict[str, PhoneNumber] = {}
    for i, fn in enumerate(fx.numbers):
        e164 = phones.require_e164(fn.phone_number, f"accounts[{fx.key}].numbers[{i}].phoneNumber")
        created = _time(fn.created_at, now, f"numbers[{i}].createdAt")
        number = await numbers.add(session, account.id, e164, created, country=fn.country, kind=fn.type,
                                   agent_id=fn.agent_id, status=fn.status, number_id=fn.id)
        by_id[number.id] = number
        counts["numbers"] += 1
    for conv in fx.conversations:
        counts["messages"] += await _conversation(session, conv, by_id, now)
        counts["conversations"] += 1
    for call in fx.calls:
        _call(session, account.id, call, by_id, now)
        counts["calls"] += 1
    for fw in fx.whatsapp:
        await _whatsapp(session, account.id, fw, now)
    counts["accounts"] += 1


async def _whatsapp(session: AsyncSession, account_id: str, fx: FxWhatsApp, now: datetime) -> None:
    offers = [whatsapp.offered(n.phone_number, n.display_name, n.phone_number_id) for n in fx.numbers] or None
    row = await whatsapp.connect(session, account_id, "fixture", now, waba_id=fx.waba_id,
                                 business_id=fx.business_id, agent_id=fx.agent_id, status="connected",
                                 offers=offers, connection_id=fx.id)
    for fn, offer in zip(fx.numbers, offers or [], strict=False):
        if fn.connected:
            await whatsapp.connect_number(session, account_id, row.id, offer["phoneNumberId"], now, fn.agent_id,
                                          number_id=fn.number_id)
    if fx.status == "pending":
        await whatsapp.set_status(session, row.id, "pending", now)


def _number(by_id: dict[str, PhoneNumber], number_id: str, where: str) -> PhoneNumber:
    if number_id not in by_id:
        raise Refused(f"{where}: numberId '{number_id}' is not one of this account's fixture numbers.")
    return by_id[number_id]


async def _conversation(session: AsyncSession, fx: FxConversation, by_id: dict[str, PhoneNumber],
                        now: datetime) -> int:
    number = _number(by_id, fx.number_id, f"conversation {fx.id}")
    participant = phones.require_e164(fx.participant, "participant")
    times = [_time(fm.at, now - timedelta(seconds=len(fx.messages) - i), f"messages[{i}].at")
             for i, fm in enumerate(fx.messages)]
    conversation = await messaging.open_conversation(session, number, participant, min(times, default=now),
                                                     conversation_id=fx.id, state=fx.metadata)
    for fm, at in zip(fx.messages, times, strict=True):
        if not fm.body.strip() and not fm.media_urls:
            raise Invalid(f"conversation {fx.id}: a message needs a 'body' or 'mediaUrls'.")
        conversation = (await messaging.record(session, number, participant, fm.direction, fm.body,
                                               check_urls(fm.media_urls, "mediaUrls"), at, message_id=fm.id,
                                               conversation=conversation, status=fm.status)).conversation
    return len(fx.messages)


def _call(session: AsyncSession, account_id: str, fx: FxCall, by_id: dict[str, PhoneNumber], now: datetime) -> None:
    number = _number(by_id, fx.number_id, f"call {fx.id}")
    inbound = fx.direction == "inbound"
    other = phones.require_e164(fx.from_ if inbound else fx.to or "", "from/to")
    started = _time(fx.started_at, now, "startedAt")
    last = fx.transcripts[-1] if fx.transcripts else None
    snippet = fx.last_transcript_snippet or ((last.response or last.transcript) if last else None)
    call = calls.new_call(
        account_id, fx.agent_id or number.agent_id, number, other if inbound else number.phone_number,
        number.phone_number if inbound else other, fx.direction, started, status=fx.status, call_id=fx.id,
        ended_at=started + timedelta(seconds=fx.duration_seconds), duration_seconds=fx.duration_seconds,
        last_transcript_snippet=snippet, end_reason=fx.end_reason,
    )
    completed = fx.status == "completed"
    call.recording_available = completed if fx.recording_available is None else fx.recording_available and completed
    session.add(call)
    step = fx.duration_seconds / max(len(fx.transcripts), 1)
    for i, ft in enumerate(fx.transcripts):
        at = _time(ft.at, started + timedelta(seconds=i * step), f"call {fx.id}: transcripts[{i}].at")
        session.add(calls.transcript_row(account_id, call.id, ft.kind, ft.transcript, ft.response, at,
                                         confidence=ft.confidence, row_id=ft.id))
