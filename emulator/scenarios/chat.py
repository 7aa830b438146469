"""A caller backed by a chat model: any OpenAI-compatible endpoint, replayed from a cassette.

The scenario's persona (goal, facts it knows, facts it must be told) becomes the model's instructions;
each agent reply becomes a user message, each model answer the caller's next words. The answer may end
the turn differently: `[hangup]` hangs up (after any words before it), `[press 12]` presses keys,
`[silence]` says nothing for a few seconds. After `stop.maxTurns` turns the caller hangs up without
asking.

Every exchange is kept in a cassette file beside the scenario. A run replays it by default: no network,
no key, the same answers in the same order, each request compared with the recorded one (a request
that differs means the agent said something else; the run says so and stops the call). `--record`
asks the endpoint instead and rewrites the cassette. The endpoint: AGENTPHONE_CALLER_URL (a base URL
such as https://api.openai.com/v1, `/chat/completions` is added), AGENTPHONE_CALLER_KEY (sent as a
bearer token when set) and AGENTPHONE_CALLER_MODEL (unless the scenario names the model).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx

from emulator.calls.persona import Persona
from emulator.scenarios.model import ChatModel

FORMAT = "agentphone-emulator cassette"
SILENCE_SECONDS = 3
MAX_WORDS = 2_000
COMMAND = re.compile(r"\[(hangup|silence|press\s+([0-9*#]+))\]", re.IGNORECASE)
URL_ENV, KEY_ENV, MODEL_ENV = "AGENTPHONE_CALLER_URL", "AGENTPHONE_CALLER_KEY", "AGENTPHONE_CALLER_MODEL"


class CassetteError(Exception):
    """The cassette cannot answer this exchange (missing, or the conversation went another way)."""


class Cassette:
    """The recorded exchanges of one scenario: replayed in order, or recorded afresh."""

    def __init__(self, path: Path, record: bool = False) -> None:
        self.path, self.record = path, record
        self.exchanges: list[dict[str, Any]] = []
        self._used = 0
        if not record:
            if not path.exists():
                raise CassetteError(f"{path}: no cassette for this model caller. Record one with --record "
                                    f"(it needs {URL_ENV}, and {MODEL_ENV} unless the scenario names its model).")
            try:
                data = json.loads(path.read_text())
                self.exchanges = list(data["exchanges"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CassetteError(f"{path}: not a readable cassette ({exc}); re-record it with --record.") from None

    def complete(self, request: dict[str, Any]) -> str:
        if self.record:
            content = ask(request)
            self.exchanges.append({"request": request, "response": {"content": content}})
            return content
        index = self._used
        if index >= len(self.exchanges):
            raise CassetteError(f"{self.path}: the recording ends after {len(self.exchanges)} exchanges, but the "
                                f"call went on (the agent said {_last_heard(request)!r}). Re-record with --record.")
        recorded = self.exchanges[index]
        if recorded.get("request") != request:
            raise CassetteError(
                f"{self.path}: exchange {index + 1} differs from the recording: the caller now hears "
                f"{_last_heard(request)!r}, the recording heard {_last_heard(recorded.get('request') or {})!r}. "
                "The agent's words (or the scenario) changed; re-record with --record.")
        self._used += 1
        return str(recorded["response"]["content"])

    def save(self) -> None:
        if self.record:
            body = {"format": FORMAT, "version": 1, "exchanges": self.exchanges}
            self.path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")


def _last_heard(request: dict[str, Any]) -> str:
    users = [m.get("content", "") for m in request.get("messages", []) if m.get("role") == "user"]
    return users[-1] if users else ""


def ask(request: dict[str, Any]) -> str:
    """One chat completion from the endpoint named by the environment."""
    base = os.environ.get(URL_ENV, "").strip().rstrip("/")
    if not base:
        raise CassetteError(f"{URL_ENV} is not set: --record asks an OpenAI-compatible endpoint there "
                            "(for example https://api.openai.com/v1).")
    key = os.environ.get(KEY_ENV, "").strip()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.post(f"{base}/chat/completions", json=request, headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        raise CassetteError(f"the caller model at {base} could not be reached: {exc!r}") from None
    if response.status_code >= 400:
        raise CassetteError(f"the caller model at {base} answered HTTP {response.status_code}: {response.text[:300]}")
    try:
        return str(response.json()["choices"][0]["message"]["content"] or "")
    except (ValueError, KeyError, IndexError, TypeError):
        raise CassetteError(f"the caller model at {base} answered something that is not a chat completion: "
                            f"{response.text[:300]}") from None


def instructions(persona: Persona, extra: str) -> str:
    lines = [f"You are a person on a phone call with an automated agent. Your goal: {persona.goal}."]
    if persona.name:
        lines.append(f"Your name is {persona.name}.")
    if persona.knows:
        lines.append("You know these facts and give them when asked: "
                     + "; ".join(f"{k}: {v}" for k, v in persona.knows.items()) + ".")
    if persona.must_be_told:
        lines.append("You want the agent to tell you: " + ", ".join(persona.must_be_told) + ".")
    lines.append("Answer with only what you say next, in one or two short sentences. Write [hangup] to end the "
                 "call, [press 1] to press keys, [silence] to say nothing.")
    if extra:
        lines.append(extra)
    return "\n".join(lines)


def to_turn(content: str) -> list[dict[str, Any]]:
    """The caller turns one model answer makes (words, then a command)."""
    found = COMMAND.search(content)
    words = (content[:found.start()] if found else content).strip()[:MAX_WORDS]
    turns: list[dict[str, Any]] = [{"say": words}] if words else []
    if found is not None:
        command = found.group(1).lower()
        if command == "hangup":
            turns.append({"hangup": True})
        elif command == "silence":
            turns.append({"silence": SILENCE_SECONDS})
        else:
            turns.append({"press": found.group(2)})
    return turns or [{"silence": SILENCE_SECONDS}]


class ChatCaller:
    """The next caller turn for what the caller heard, asked of the model (through the cassette)."""

    def __init__(self, persona: Persona, model: ChatModel, cassette: Cassette) -> None:
        name = model.name or os.environ.get(MODEL_ENV, "").strip()
        if not name and cassette.record:
            raise CassetteError(f"the scenario names no model and {MODEL_ENV} is not set.")
        self.persona, self.cassette, self.temperature = persona, cassette, model.temperature
        self.name = name or str(((cassette.exchanges or [{}])[0].get("request") or {}).get("model", ""))
        self.messages: list[dict[str, str]] = [{"role": "system", "content": instructions(persona, model.instructions)}]
        self.pending: list[dict[str, Any]] = []
        self.turns = 0

    def next_turn(self, heard: dict[str, Any]) -> dict[str, Any]:
        if not self.pending:
            if self.turns >= self.persona.stop.max_turns:
                return self._counted({"hangup": True})
            self.messages.append({"role": "user", "content": describe(heard)})
            request = {"model": self.name, "messages": list(self.messages), "temperature": self.temperature}
            content = self.cassette.complete(request)
            self.messages.append({"role": "assistant", "content": content})
            self.pending = to_turn(content)
        return self._counted(self.pending.pop(0))

    def _counted(self, turn: dict[str, Any]) -> dict[str, Any]:
        self.turns += 1
        for planned in self.persona.disturb:
            if planned.turn == self.turns and ("say" in turn or "press" in turn):
                if planned.fault:
                    turn["fault"] = planned.fault
                if planned.noise:
                    turn["noise"] = planned.noise
        return turn


def describe(heard: dict[str, Any]) -> str:
    """What the caller heard, as the model reads it."""
    parts = [heard.get("text") or "(the agent says nothing)"]
    if heard.get("digits"):
        parts.append(f"(the agent pressed {heard['digits']})")
    return " ".join(parts)
