"""Placing calls: the rules an outbound call must pass, and dialing one of our numbers from outside."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.calls import rows
from emulator.calls.callees import Callee
from emulator.calls.setup import CallSetup
from emulator.clock import iso, parse_iso
from emulator.domain import accounts, agents, calls, numbers, webhooks
from emulator.errors import Conflict, Expired, Refused, Unauthorized, not_found
from emulator.plans import get_plan
from emulator.store import Agent, Call, Webhook
from emulator.wire.calls import PlaceCall, WebCall


@dataclass
class Placed:
    call: Call
    agent: Agent
    hook: Webhook | None
    max_seconds: int | None = None  # the plan's longest call

    def setup(self, callee: Callee) -> CallSetup:
        return CallSetup.of(self.call, self.agent, self.hook, callee, max_seconds=self.max_seconds)


async def _placed(session: AsyncSession, call: Call, agent: Agent, hook: Webhook | None) -> Placed:
    account = await accounts.row(session, call.account_id)
    return Placed(call, agent, hook, get_plan(account.plan).max_call_duration_minutes * 60)


async def place(session: AsyncSession, account_id: str, req: PlaceCall, now: datetime) -> Placed:
    agent = await agents.get(session, account_id, req.agent_id)
    to_number = phones.require_e164(req.to_number, "toNumber")
    attached = (await agents.numbers_of(session, [agent.id]))[agent.id]
    phones_only = [n for n in attached if n.type != "whatsapp"]  # a WhatsApp line (simulated) places no calls
    if req.from_number_id is not None:
        matches = [n for n in attached if n.id == req.from_number_id]
        if not matches:
            raise Refused(f"Number '{req.from_number_id}' is not one of agent '{agent.id}''s active numbers.")
        if matches[0].type == "whatsapp":
            raise Refused(f"Number '{req.from_number_id}' is a WhatsApp number: it sends messages, not calls.")
        number = matches[0]
    elif phones_only:
        number = phones_only[0]
    else:
        raise Refused(f"Agent '{agent.id}' has no phone number to call from; buy or attach one first.")
    if to_number == number.phone_number:
        raise Refused("A call cannot be placed from a number to itself.")
    hook = await webhooks.route(session, account_id, agent.id)
    hosted = bool(req.system_prompt) or agent.voice_mode == "hosted"
    if not hosted and hook is None:
        raise Refused(
            f"Agent '{agent.id}' is in webhook mode and no webhook is configured for it or the project; "
            "set one (POST /v1/webhooks) or pass 'systemPrompt' for a hosted call."
        )
    call = calls.new_call(account_id, agent.id, number, number.phone_number, to_number, "outbound", now,
                 voice=req.voice or agent.voice, initial_greeting=req.initial_greeting,
                 system_prompt=req.system_prompt, variables=req.variables,
                 call_metadata={"recordingDisabled": True} if req.disable_recording else None)
    await rows.insert(session, call)  # a Core insert: an ORM flush of the one row cost more than the rest of placing it
    return await _placed(session, call, agent, hook)


async def inbound(session: AsyncSession, sender: str, to: str, now: datetime,
                  within: Collection[str] | None = None) -> Placed:
    """Someone dials one of our numbers (of the `within` accounts): the agent it is attached to answers."""
    caller = phones.require_e164(sender, "from")
    dialed = phones.require_e164(to, "to")
    number = await numbers.dialled(session, dialed, within)
    if number.agent_id is None:
        raise Refused(f"Number {dialed} is not attached to an agent, so nobody would answer the call.")
    agent = await agents.get(session, number.account_id, number.agent_id)
    hook = await webhooks.route(session, number.account_id, agent.id)
    call = calls.new_call(number.account_id, agent.id, number, caller, dialed, "inbound", now, voice=agent.voice)
    await rows.insert(session, call)
    return await _placed(session, call, agent, hook)


WEB_TOKEN_SECONDS = 30


async def web(session: AsyncSession, account_id: str, req: WebCall, now: datetime) -> Placed:
    """A browser call: registered with a short-lived access token until a client joins it."""
    agent = await agents.get(session, account_id, req.agent_id)
    if req.variables and agent.voice_mode != "hosted":
        raise Refused("Field 'variables' needs a hosted-mode agent: they fill its systemPrompt and beginMessage.")
    token = f"webtok_{ids.token(24)}"
    metadata = {"metadata": req.metadata, "accessToken": token,
                "tokenExpiresAt": iso(now + timedelta(seconds=WEB_TOKEN_SECONDS))}
    call = Call(id=ids.new_id("call"), account_id=account_id, agent_id=agent.id, phone_number_id=None,
                phone_number=None, from_number="web", to_number=f"agent:{agent.id}", direction="web", type="web",
                status="registered", started_at=now, recording_available=False, voice=agent.voice,
                variables=req.variables, call_metadata=metadata)
    await rows.insert(session, call)
    return await _placed(session, call, agent, await webhooks.route(session, account_id, agent.id))


async def join_web(session: AsyncSession, call_id: str, token: str, now: datetime,
                   within: Collection[str] | None = None) -> Placed:
    call = await session.scalar(select(Call).where(Call.id == call_id, Call.type == "web"))
    if call is None or (within is not None and call.account_id not in within):
        raise not_found("Web call", call_id)
    meta = call.call_metadata or {}
    if token != meta.get("accessToken"):
        raise Unauthorized("The access token does not belong to this web call.")
    if call.status != "registered":
        raise Conflict(f"Web call '{call_id}' was already joined (status {call.status}).")
    if now > parse_iso(meta["tokenExpiresAt"]):
        raise Expired(f"The access token expired at {meta['tokenExpiresAt']} (tokens last "
                            f"{WEB_TOKEN_SECONDS} s on the emulator clock).")
    call.status = "in-progress"
    call.started_at = now
    agent = await agents.get(session, call.account_id, call.agent_id or "")
    return await _placed(session, call, agent, await webhooks.route(session, call.account_id, agent.id))
