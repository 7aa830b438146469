"""Fixtures: seed states written in YAML (or JSON), loaded with IDs and secrets exactly as written.

    accounts:
      - key: sk_test_demo            # the API key tests use
        plan: pro                    # free | pro | scale
        balanceCents: 10000
        recordingEnabled: true
        webhook: {id: wh_project, url: "http://127.0.0.1:9000/hook", secret: whsec_fixed}
        agents:
          - id: agent_support        # any POST /v1/agents field, plus id and webhook
            name: Support Bot
            webhook: {url: "http://127.0.0.1:9000/support", secret: whsec_support, contextLimit: 5}
        numbers:
          - {id: pn_main, phoneNumber: "+14155550100", agentId: agent_support}
        conversations:
          - id: conv_1
            numberId: pn_main
            participant: "+14155559999"
            metadata: {tier: gold}
            messages:
              - {direction: inbound, body: "Hi!", at: "2026-01-05T10:00:00Z"}
        calls:
          - id: call_1
            agentId: agent_support
            numberId: pn_main
            direction: inbound
            from: "+14155559999"
            startedAt: "2026-01-05T11:00:00Z"
            durationSeconds: 42
            transcripts:
              - {transcript: "Hi, where is my order?", response: "It shipped yesterday."}

Loading replaces the accounts it names (their old rows are removed first), so a
fixture can be loaded before every test.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.clock import parse_iso
from emulator.domain import accounts as account_rules
from emulator.domain import agents as agent_rules
from emulator.domain import webhooks as webhook_rules
from emulator.errors import ApiError, conflict, invalid
from emulator.plans import DEFAULT_BALANCE_CENTS, PLANS
from emulator.schemas import AgentFields, NonEmpty
from emulator.store import Account, Agent, Call, Conversation, Message, PhoneNumber, Store, Transcript, Webhook
from emulator.store.db import delete_accounts
from emulator.validation import describe


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class FxWebhook(_Model):
    id: str | None = None
    url: str
    secret: str | None = None
    context_limit: Annotated[int, Field(ge=0, le=50)] = 10
    timeout: Annotated[int, Field(ge=5, le=120)] = 30


class FxAgent(AgentFields):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True)
    id: str | None = None
    name: NonEmpty
    webhook: FxWebhook | None = None


class FxNumber(_Model):
    id: str | None = None
    phone_number: str
    country: str | None = None
    agent_id: str | None = None
    type: Literal["sms", "imessage", "voice"] = "sms"
    status: Literal["active", "released"] = "active"
    created_at: str | None = None


class FxMessage(_Model):
    id: str | None = None
    direction: Literal["inbound", "outbound"]
    body: str
    at: str | None = None


class FxConversation(_Model):
    id: str | None = None
    number_id: str
    participant: str
    metadata: dict[str, Any] | None = None
    messages: list[FxMessage] = []


class FxTranscript(_Model):
    id: str | None = None
    transcript: str = ""
    response: str | None = None
    confidence: float | None = 0.95


class FxCall(_Model):
    id: str | None = None
    agent_id: str | None = None
    number_id: str
    direction: Literal["inbound", "outbound"] = "outbound"
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    status: Literal["completed", "failed", "busy", "no-answer", "voicemail", "canceled"] = "completed"
    started_at: str | None = None
    duration_seconds: Annotated[int, Field(ge=0, le=86_400)] = 0
    transcripts: list[FxTranscript] = []


class FxAccount(_Model):
    key: str
    id: str | None = None
    plan: str = "scale"
    balance_cents: Annotated[int, Field(ge=0, le=10**15)] = DEFAULT_BALANCE_CENTS
    recording_enabled: bool = False
    webhook: FxWebhook | None = None
    agents: list[FxAgent] = []
    numbers: list[FxNumber] = []
    conversations: list[FxConversation] = []
    calls: list[FxCall] = []


class FixtureFile(_Model):
    accounts: list[FxAccount] = []


def read(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """(source name, parsed document) for a file, or for every .yaml/.yml/.json in a directory (sorted)."""
    if not isinstance(path, str | Path):
        raise invalid("Field 'path' must be a string: a fixture file or directory on the emulator's machine.")
    target = Path(path)
    suffixes = (".yaml", ".yml", ".json")
    out = []
    try:
        files = sorted(p for p in target.iterdir() if p.suffix in suffixes) if target.is_dir() else [target]
        texts = [(file, file.read_text()) for file in files]
    except (OSError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Cannot read the fixture at {path}: {exc.__class__.__name__}.") from None
    for file, text in texts:
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ApiError(400, f"{file}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise invalid(f"{file}: a fixture file must be a mapping with an 'accounts' list.")
        out.append((str(file), data))
    return out


def validate(data: dict[str, Any], source: str = "fixture") -> FixtureFile:
    try:
        fixture = FixtureFile.model_validate(data)
    except ValidationError as exc:
        raise invalid(f"{source}: {describe(exc)}") from None
    _check_consistent(fixture, source)
    return fixture


def _check_consistent(fixture: FixtureFile, source: str) -> None:
    """Within one fixture: keys, IDs and active phone numbers unique; numbers point at its own agents."""
    seen: dict[str, str] = {}

    def once(kind: str, value: str | None, where: str) -> None:
        if value is None:
            return
        if (kind, value) in seen:
            raise conflict(f"{source}: {where} repeats the {kind} {value!r} of {seen[(kind, value)]}.")
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
                raise invalid(f"{source}: {where}.agentId {number.agent_id!r} is not an agent of this account.")
        for j, conv in enumerate(account.conversations):
            once("id", conv.id, f"{base}.conversations[{j}]")
            for k, message in enumerate(conv.messages):
                once("id", message.id, f"{base}.conversations[{j}].messages[{k}]")
        for j, call in enumerate(account.calls):
            once("id", call.id, f"{base}.calls[{j}]")
            if call.agent_id is not None and call.agent_id not in agent_ids:
                raise invalid(f"{source}: {base}.calls[{j}].agentId {call.agent_id!r} is not an agent of this account.")
            for k, row in enumerate(call.transcripts):
                once("id", row.id, f"{base}.calls[{j}].transcripts[{k}]")


def _time(value: str | None, default: datetime, where: str) -> datetime:
    if value is None:
        return default
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        raise invalid(f"{where} must be an ISO-8601 timestamp (got {value!r}).") from None


def _webhook(fx: FxWebhook, account_id: str, agent_id: str | None, now: datetime) -> Webhook:
    return Webhook(id=fx.id or ids.new_id("wh"), account_id=account_id, agent_id=agent_id,
                   url=webhook_rules.check_url(fx.url), secret=fx.secret or ids.new_secret(), status="active",
                   context_limit=fx.context_limit, timeout=fx.timeout, created_at=now, updated_at=now)


async def _taken(session: AsyncSession, model: Any, ident: str, account_ids: set[str]) -> None:
    # An account row has no account_id: any other row with its ID belongs to another key (this key's old
    # rows were removed first).
    owner = await session.scalar(select(model.id if model is Account else model.account_id).where(model.id == ident))
    if owner is not None and (model is Account or owner not in account_ids):
        raise ApiError(409, f"ID '{ident}' already belongs to another account; fixture IDs must be unique.")


async def load(store: Store, fixture: FixtureFile, now: datetime) -> dict[str, Any]:
    """Replace the named accounts with the fixture's state, in one transaction."""
    loaded: dict[str, int] = {"accounts": 0, "agents": 0, "numbers": 0, "conversations": 0, "messages": 0,
                              "calls": 0}
    async with store.write() as session:
        existing = {
            fx.key: await account_rules.find_by_key(session, fx.key) for fx in fixture.accounts
        }
        old_ids = [a.id for a in existing.values() if a is not None]
        if old_ids:
            await delete_accounts(session, old_ids)
        for index, fx in enumerate(fixture.accounts):
            try:
                await _load_account(session, fx, now, loaded)
            except ApiError as exc:  # say which account of the file the problem is in
                raise ApiError(exc.status, f"accounts[{index}] ({fx.key}): {exc.detail}") from None
    return loaded


def _written_ids(fx: FxAccount) -> list[tuple[Any, str]]:
    """(model, ID) of the webhooks, conversations, messages, calls and transcripts given with an explicit ID."""
    hooks = [fx.webhook, *(a.webhook for a in fx.agents)]
    found: list[tuple[Any, str | None]] = [(Webhook, h.id) for h in hooks if h is not None]
    for conv in fx.conversations:
        found += [(Conversation, conv.id), *((Message, m.id) for m in conv.messages)]
    for call in fx.calls:
        found += [(Call, call.id), *((Transcript, t.id) for t in call.transcripts)]
    return [(model, ident) for model, ident in found if ident]


async def _load_account(session: AsyncSession, fx: FxAccount, now: datetime, loaded: dict[str, int]) -> None:
    account_rules.check_key(fx.key)
    if fx.plan not in PLANS:
        raise invalid(f"Account {fx.key}: plan must be one of {', '.join(PLANS)} (got {fx.plan!r}).")
    account = account_rules.new_account(fx.key, fx.plan, fx.balance_cents, now, account_id=fx.id)
    account.recording_enabled = fx.recording_enabled
    mine = {account.id}
    await _taken(session, Account, account.id, mine)
    for model, ident in _written_ids(fx):  # the rows below have IDs too: a clash is a 409, not a crash
        await _taken(session, model, ident, mine)
    session.add(account)
    if fx.webhook:
        session.add(_webhook(fx.webhook, account.id, None, now))
    for fa in fx.agents:
        values = {**agent_rules.DEFAULTS, **fa.model_dump(exclude={"id", "webhook", "name"}, exclude_none=True)}
        agent_rules.check(values)
        agent = Agent(id=fa.id or ids.new_id("agent"), account_id=account.id, name=fa.name, created_at=now,
                      updated_at=now, **values)
        await _taken(session, Agent, agent.id, mine)
        session.add(agent)
        if fa.webhook:
            session.add(_webhook(fa.webhook, account.id, agent.id, now))
        loaded["agents"] += 1
    numbers: dict[str, PhoneNumber] = {}
    for i, fn in enumerate(fx.numbers):
        e164 = phones.require_e164(fn.phone_number, f"accounts[{fx.key}].numbers[{i}].phoneNumber")
        clash = await session.scalar(select(PhoneNumber).where(PhoneNumber.phone_number == e164,
                                                               PhoneNumber.status == "active"))
        if clash is not None and fn.status == "active":
            raise ApiError(409, f"Phone number {e164} is already active in another account.")
        created = _time(fn.created_at, now, f"numbers[{i}].createdAt")
        number = PhoneNumber(id=fn.id or ids.new_id("pn"), account_id=account.id, agent_id=fn.agent_id,
                             phone_number=e164, country=fn.country or phones.country_of(e164), status=fn.status,
                             type=fn.type, attached_at=created if fn.agent_id else None, created_at=created,
                             released_at=now if fn.status == "released" else None)
        await _taken(session, PhoneNumber, number.id, mine)
        session.add(number)
        numbers[number.id] = number
        loaded["numbers"] += 1
    account.numbers_bought = len(fx.numbers)
    await session.flush()
    for conv in fx.conversations:
        _conversation(session, account.id, conv, numbers, now, loaded)
    for call in fx.calls:
        _call(session, account.id, call, numbers, now, loaded)
    loaded["accounts"] += 1


def _number(numbers: dict[str, PhoneNumber], number_id: str, where: str) -> PhoneNumber:
    if number_id not in numbers:
        raise invalid(f"{where}: numberId '{number_id}' is not one of this account's fixture numbers.")
    return numbers[number_id]


def _conversation(session: AsyncSession, account_id: str, fx: FxConversation, numbers: dict[str, PhoneNumber],
                  now: datetime, loaded: dict[str, int]) -> None:
    number = _number(numbers, fx.number_id, f"conversation {fx.id}")
    participant = phones.require_e164(fx.participant, "participant")
    conv = Conversation(id=fx.id or ids.new_id("conv"), account_id=account_id, agent_id=number.agent_id,
                        phone_number_id=number.id, phone_number=number.phone_number, participant=participant,
                        channel="imessage" if number.type == "imessage" else "sms", state=fx.metadata,
                        message_count=len(fx.messages), created_at=now, last_message_at=now,
                        last_message_preview="")
    for i, fm in enumerate(fx.messages):
        at = _time(fm.at, now - timedelta(seconds=len(fx.messages) - i), f"messages[{i}].at")
        inbound = fm.direction == "inbound"
        session.add(Message(
            id=fm.id or ids.new_id("msg"), account_id=account_id, agent_id=number.agent_id, conversation_id=conv.id,
            phone_number_id=number.id, from_number=participant if inbound else number.phone_number,
            to_number=number.phone_number if inbound else participant, body=fm.body, direction=fm.direction,
            status="received" if inbound else "sent", channel="sms", received_at=at,
        ))
        conv.last_message_at, conv.last_message_preview = at, fm.body[:160]
        conv.created_at = min(conv.created_at, at)
        loaded["messages"] += 1
    session.add(conv)
    loaded["conversations"] += 1


def _call(session: AsyncSession, account_id: str, fx: FxCall, numbers: dict[str, PhoneNumber], now: datetime,
          loaded: dict[str, int]) -> None:
    number = _number(numbers, fx.number_id, f"call {fx.id}")
    other = phones.require_e164(fx.from_ if fx.direction == "inbound" else fx.to or "", "from/to")
    started = _time(fx.started_at, now, "startedAt")
    call = Call(
        id=fx.id or ids.new_id("call"), account_id=account_id, agent_id=fx.agent_id or number.agent_id,
        phone_number_id=number.id, phone_number=number.phone_number,
        from_number=other if fx.direction == "inbound" else number.phone_number,
        to_number=number.phone_number if fx.direction == "inbound" else other, direction=fx.direction,
        type="pstn", status=fx.status, started_at=started,
        ended_at=started + timedelta(seconds=fx.duration_seconds) if fx.status != "in-progress" else None,
        duration_seconds=fx.duration_seconds, recording_available=fx.status == "completed",
        last_transcript_snippet=(fx.transcripts[-1].response or fx.transcripts[-1].transcript) if fx.transcripts
        else None,
    )
    session.add(call)
    step = fx.duration_seconds / max(len(fx.transcripts), 1)
    for i, ft in enumerate(fx.transcripts):
        session.add(Transcript(
            id=ft.id or ids.new_id("tx"), account_id=account_id, call_id=call.id, kind="speech",
            transcript=ft.transcript, response=ft.response, confidence=ft.confidence,
            created_at=started + timedelta(seconds=i * step),
        ))
    loaded["calls"] += 1
