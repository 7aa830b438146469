"""Hosted mode: the built-in responder that answers calls without a webhook.

`Responder` is the interface a real model could implement later. `RuleResponder` is
deterministic, needs no network and no model, and follows documented rules:
  * greeting: the call's `initialGreeting`, else the agent's `beginMessage`, with
    `{{var}}` placeholders filled from the call's `variables`;
  * a caller whose line names one of the agent's custom tools (its name as written, or with `_`/`-`
    read as spaces) gets that tool used: the agent speaks the tool's `executionMessage` first when
    `speakDuringExecution`, the tool's URL is called (emulator/calls/tools.py), and the agent reads out
    what it answered ("Here is what lookup_order found: ..."), or says it could not reach it;
  * a caller who says goodbye (bye, goodbye, that's all, see you) gets a goodbye and a hangup;
  * a caller who asks for a human/agent/representative is transferred when the agent
    has a `transferNumber`;
  * anything else gets a reply that repeats what it heard, so tests can see it listened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from emulator.calls.tools import ToolResult, ToolUse, arguments, named_in

VAR = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
GOODBYE = re.compile(r"\b(good\s*bye|bye|that'?s all|see you)\b", re.IGNORECASE)
HUMAN = re.compile(r"\b(human|real person|representative|operator)\b", re.IGNORECASE)


def fill(text: str | None, variables: dict[str, str]) -> str | None:
    """Replace `{{name}}` with the variable's value; unknown placeholders are left as they are."""
    if text is None:
        return None
    return VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


@dataclass
class HostedContext:
    system_prompt: str
    begin_message: str | None
    initial_greeting: str | None
    variables: dict[str, str] = field(default_factory=dict)
    transfer_number: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)  # the agent's customTools


@dataclass
class HostedReply:
    text: str
    hangup: bool = False
    transfer: bool = False
    digits: str | None = None
    tool: ToolUse | None = None  # the agent uses this tool first (`text` is then unused)


class Responder(Protocol):
    def greeting(self, ctx: HostedContext) -> str | None: ...

    async def reply(self, ctx: HostedContext, utterance: str, turn: int) -> HostedReply: ...

    async def after_tool(self, ctx: HostedContext, result: ToolResult) -> HostedReply:
        """What the agent says once a tool it used has answered (or failed)."""
        ...

    def analysis(self, ctx: HostedContext, transcript: list[dict[str, str]]) -> dict[str, Any] | None:
        """The call's `summary`, `userSentiment` and `callSuccessful` (any of them), or None for the rules'."""
        ...


class RuleResponder:
    def greeting(self, ctx: HostedContext) -> str | None:
        return fill(ctx.initial_greeting, ctx.variables) or fill(ctx.begin_message, ctx.variables)

    def analysis(self, ctx: HostedContext, transcript: list[dict[str, str]]) -> dict[str, Any] | None:
        return None  # the documented rules of emulator/calls/analysis.py apply

    async def reply(self, ctx: HostedContext, utterance: str, turn: int) -> HostedReply:
        said = utterance.strip().rstrip(".!?")
        tool = named_in(utterance, ctx.tools)
        if tool is not None:
            return HostedReply("", tool=ToolUse(str(tool["name"]), arguments(utterance, tool)))
        if GOODBYE.search(utterance):
            return HostedReply("Thanks for calling. Goodbye!", hangup=True)
        if HUMAN.search(utterance) and ctx.transfer_number:
            return HostedReply("Let me transfer you to a person now.", transfer=True)
        return HostedReply(f'I heard you say "{said}". How else can I help?')

    async def after_tool(self, ctx: HostedContext, result: ToolResult) -> HostedReply:
        answer = result.spoken()
        if answer:
            return HostedReply(f"Here is what {result.name} found: {answer}")
        return HostedReply(f"Sorry, I could not get an answer from {result.name} just now.")
