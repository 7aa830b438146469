"""Everything a call needs to run, read once from the store when it starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.calls.callees import Callee
from emulator.store import Agent, Call, Webhook


@dataclass(frozen=True)
class AgentView:
    id: str
    name: str
    voice_mode: str
    system_prompt: str | None
    begin_message: str | None
    transfer_number: str | None
    voicemail_message: str | None
    max_silence_ms: int
    voice_speed: float
    custom_tools: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(cls, agent: Agent) -> AgentView:
        return cls(agent.id, agent.name, agent.voice_mode, agent.system_prompt, agent.begin_message,
                   agent.transfer_number, agent.voicemail_message, agent.max_silence_ms, agent.voice_speed,
                   tuple(dict(tool) for tool in agent.custom_tools or ()))


@dataclass(frozen=True)
class HookView:
    id: str
    url: str
    secret: str
    timeout: int
    context_limit: int
    event_types: list[str] | None = None

    @classmethod
    def of(cls, hook: Webhook | None) -> HookView | None:
        if hook is None:
            return None
        types = list(hook.event_types) if hook.event_types is not None else None
        return cls(hook.id, hook.url, hook.secret, hook.timeout, hook.context_limit, types)


@dataclass
class CallSetup:
    call_id: str
    account_id: str
    agent: AgentView
    hook: HookView | None
    callee: Callee
    direction: str
    from_number: str
    to_number: str
    phone_number_id: str | None
    system_prompt: str | None = None
    initial_greeting: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    max_seconds: int | None = None  # the plan's maximum call duration

    @property
    def other_party(self) -> str | None:
        """The number on the far end of the line (None for a web call)."""
        if self.direction == "web":
            return None
        return self.from_number if self.direction == "inbound" else self.to_number

    @property
    def hosted(self) -> bool:
        """Hosted mode: a hosted agent, or any call placed with its own systemPrompt."""
        return self.agent.voice_mode == "hosted" or bool(self.system_prompt)

    @classmethod
    def of(cls, call: Call, agent: Agent, hook: Webhook | None, callee: Callee,
           max_seconds: int | None = None) -> CallSetup:
        return cls(
            call_id=call.id, account_id=call.account_id, agent=AgentView.of(agent), hook=HookView.of(hook),
            callee=callee, direction=call.direction, from_number=call.from_number, to_number=call.to_number,
            phone_number_id=call.phone_number_id, system_prompt=call.system_prompt,
            initial_greeting=call.initial_greeting, variables=dict(call.variables or {}), max_seconds=max_seconds,
        )
