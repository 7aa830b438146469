"""`agentphone-emulator scenario export ID`: the scenario that plays an emulated call (or SMS thread) again.

The caller's turns are written out as they were said (a persona's or a driven caller's turns become
scripted ones; a turn's faults and noise are kept), and the expectations are what was observed: each
reply's words, hang-up, transfer, digits, silence and interruption, and the call's status, endReason
and number of agent.message deliveries; pauses of a minute or more between a conversation's messages
become `after:`. The agent is written inline with the fields it was created
with; the scenario names no key (a scenario with a key resets that account) and no webhook (give
--target, or add `webhook:`).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic.alias_generators import to_snake

from emulator.calls.callees import MAGIC_NUMBERS
from emulator.clock import parse_iso
from emulator.scenarios.model import span_text
from emulator.testing.control import ControlError, checked
from emulator.wire.agents import DEFAULTS

SHORT_REPLY = 80  # longer replies are expected by their first sentence
GAP_SECONDS = 60  # a longer pause between a conversation's inbound messages is exported as `after:`
AGENT_FIELDS = ("name", "voiceMode", "systemPrompt", "beginMessage", "transferNumber", "voicemailMessage",
                "maxSilenceMs", "voiceSpeed")


class ExportError(Exception):
    """The call or conversation cannot be exported."""


def _phrase(reply: str) -> str:
    if len(reply) <= SHORT_REPLY:
        return reply
    for end in (". ", "! ", "? "):
        cut = reply.find(end)
        if 0 < cut < SHORT_REPLY:
            return reply[:cut + 1]
    return reply[:SHORT_REPLY].rsplit(" ", 1)[0]


def _agent(agent: dict[str, Any]) -> dict[str, Any]:
    """The agent's fields that shape a call, where they differ from what a new agent gets."""
    return {name: agent[name] for name in AGENT_FIELDS
            if agent.get(name) is not None and (name == "name" or agent[name] != DEFAULTS.get(to_snake(name)))}


def _reply_expect(row: dict[str, Any]) -> dict[str, Any]:
    reply = row.get("response") or ""
    expect: dict[str, Any] = {"contains": _phrase(reply)} if reply else {"silent": True}
    if row.get("hangup"):
        expect["hangup"] = True
    if row.get("action") == "transfer":
        expect["transfer"] = True
    if row.get("digits"):
        expect["digits"] = row["digits"]
    if row.get("interrupted"):
        expect["interrupted"] = True
    return expect


def turns_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    barge = False
    for row in rows:
        kind = row.get("kind")
        turn: dict[str, Any]
        if kind == "speech":
            turn = {"say": row.get("said") or row.get("transcript") or ""}
            if barge:
                turn["interrupt"] = True
        elif kind == "dtmf":
            turn = {"press": row.get("callerDigits") or ""}
        elif kind == "silence":
            turns.append({"silence": row.get("seconds") or 1})
            continue
        elif kind == "hangup":
            turns.append({"hangup": True})
            continue
        else:  # the greeting and voicemail are the agent's; they need no caller turn
            continue
        for name in ("fault", "noise"):
            if row.get(name):
                turn[name] = row[name] if len(row[name]) > 1 else row[name][0]
        turn["expect"] = _reply_expect(row)
        barge = bool(row.get("interrupted"))
        turns.append(turn)
    return turns


def from_call(call: dict[str, Any], agent: dict[str, Any], deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    rows = call.get("transcripts") or []
    inbound = call["direction"] == "inbound"
    magic = not inbound and call["toNumber"] in MAGIC_NUMBERS  # the number decides the outcome, not a script
    scenario: dict[str, Any] = {
        "name": f"{agent['name']}: call {call['id']}",
        "description": f"Exported from emulated call {call['id']} ({call['direction']}, {call['startedAt']}); the "
                       "expectations are what happened on that call.",
        "agent": _agent(agent),
        "direction": "inbound" if inbound else "outbound",
    }
    if inbound:
        scenario["from"] = call["fromNumber"]
    else:
        scenario["to"] = call["toNumber"]
    turns = [] if magic else turns_of(rows)
    if turns:
        scenario["turns"] = turns
    greeting = next((r["response"] for r in rows if r.get("kind") == "greeting" and r.get("response")), None)
    expect: dict[str, Any] = {"status": call["status"]}
    if call.get("endReason"):
        expect["endReason"] = call["endReason"]
    if greeting:
        expect["transcriptContains"] = _phrase(greeting)
    if agent.get("voiceMode") != "hosted":
        expect["deliveries"] = sum(d.get("eventType") == "agent.message" for d in deliveries)
    scenario["expect"] = expect
    return scenario


def from_conversation(conversation: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
    # The API lists a conversation's messages newest first, in the order they were written when their times (to
    # the millisecond) are equal: reversed, then sorted stably by time, a reply sent within the millisecond of
    # its message still follows it.
    messages = sorted(reversed(conversation.get("messages") or []), key=lambda m: m.get("receivedAt") or "")
    steps: list[dict[str, Any]] = []
    last: datetime | None = None
    for message in messages:
        if message["direction"] == "inbound":
            step: dict[str, Any] = {"send": message["body"]}
            at = parse_iso(message["receivedAt"])
            if last is not None and (at - last).total_seconds() >= GAP_SECONDS:
                step["after"] = span_text((at - last).total_seconds())
            last = at
            steps.append(step)
        elif steps and "expect" not in steps[-1]:
            steps[-1]["expect"] = {"contains": _phrase(message["body"])}
    if not steps:
        raise ExportError(f"Conversation '{conversation['id']}' has no inbound message to send again.")
    return {
        "name": f"{agent['name']}: conversation {conversation['id']}",
        "description": f"Exported from emulated conversation {conversation['id']}; each expectation is the "
                       "agent's first reply to that message.",
        "channel": "sms",
        "agent": _agent(agent),
        "from": conversation["participant"],
        "messages": steps,
        "expect": {"deliveries": {"min": len(steps)}},
    }


def export(api: httpx.Client, ident: str) -> dict[str, Any]:
    """The scenario for a call (call_...) or a conversation (anything else), read with `api`'s key."""
    try:
        if ident.startswith("call_"):
            call = checked(api.get(f"/v1/calls/{ident}"))
            if call["status"] in ("in-progress", "registered"):
                raise ExportError(f"Call '{ident}' is still {call['status']}: export it once it has ended.")
            if not call.get("agentId"):
                raise ExportError(f"Call '{ident}' has no agent to export.")
            agent = checked(api.get(f"/v1/agents/{call['agentId']}"))
            rows = checked(api.get(f"/v1/agents/{agent['id']}/webhook/deliveries", params={"limit": 100}))
            return from_call(call, agent, [d for d in rows if d.get("messageId") == ident])
        conversation = checked(api.get(f"/v1/conversations/{ident}"))
        if not conversation.get("agentId"):
            raise ExportError(f"Conversation '{ident}' has no agent to export.")
        agent = checked(api.get(f"/v1/agents/{conversation['agentId']}"))
        return from_conversation(conversation, agent)
    except ControlError as exc:
        raise ExportError(f"{exc.method} {exc.path} answered {exc.status}: {exc.detail}") from None


def to_yaml(scenario: dict[str, Any]) -> str:
    head = ("# Written by `agentphone-emulator scenario export`. Run it with\n"
            "#   agentphone-emulator scenario run THIS_FILE --target <your agent's webhook URL>\n")
    return head + yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, width=110)


def export_command(ident: str, base_url: str, key: str | None, out: str | None) -> int:
    if not key:
        print("error: give the API key of the account that owns it (--key, or AGENTPHONE_API_KEY).", file=sys.stderr)
        return 2
    try:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
            text = to_yaml(export(api, ident))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: the emulator at {base_url} could not be reached: {exc!r}", file=sys.stderr)
        return 1
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
