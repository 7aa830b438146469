"""Who answers an outbound call: a registered script, a magic number, or a generated caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator import ids
from emulator.calls.script import Turn, parse_turns


@dataclass(frozen=True)
class Magic:
    status: str
    end_reason: str
    answered: bool
    description: str


# Destinations with fixed outcomes, in the spirit of Twilio's test-credential numbers.
MAGIC_NUMBERS: dict[str, Magic] = {
    "+15005550001": Magic("busy", "busy", False, "the line is busy"),
    "+15005550002": Magic("no-answer", "no-answer", False, "rings and is never answered"),
    "+15005550003": Magic("failed", "carrier-failure", False, "the call fails to connect"),
    "+15005550004": Magic("voicemail", "voicemail", True, "reaches voicemail; the agent's voicemailMessage is left"),
    "+15005550005": Magic("completed", "callee-hangup", True, "answers and hangs up at once"),
}


@dataclass
class Callee:
    turns: list[Turn]
    source: str  # script | magic | generated | inbound
    magic: Magic | None = None
    persona: dict[str, Any] = field(default_factory=dict)
    analysis: dict[str, Any] | None = None  # what the call's end reports instead of the derived analysis


@dataclass(frozen=True)
class Script:
    """A registered callee: its turns, and the analysis its calls report (camelCase keys), if stated."""

    turns: list[Turn]
    analysis: dict[str, Any] | None = None


Scope = str | None  # an account ID, or None for a script every account's calls reach


class CalleeBook:
    """Scripts registered per destination through the control API (kept until removed or reset).

    A script can be registered for every account or for one account only; calls of that account
    reach its own script first, so parallel test runs can script the same destination apart."""

    def __init__(self) -> None:
        self._scripts: dict[tuple[Scope, str], Script] = {}

    def put(self, e164: str, turns_json: Any, scope: Scope = None,
            analysis: dict[str, Any] | None = None) -> Script:
        script = Script(parse_turns(turns_json), analysis)
        self._scripts[(scope, e164)] = script
        return script

    def get(self, e164: str, scope: Scope = None) -> Script | None:
        return self._scripts.get((scope, e164))

    def remove(self, e164: str, scope: Scope = None) -> bool:
        return self._scripts.pop((scope, e164), None) is not None

    def clear(self, scope: Scope = None) -> None:
        if scope is None:
            self._scripts.clear()
        else:
            self._scripts = {k: v for k, v in self._scripts.items() if k[0] != scope}

    def all(self) -> dict[tuple[Scope, str], Script]:
        return dict(self._scripts)

    def answer(self, e164: str, account_id: str | None = None) -> Callee:
        """The account's own script first, then one for everyone, then the magic numbers, else a generated
        caller."""
        script = self._scripts.get((account_id, e164)) if account_id else None
        if script is None:
            script = self._scripts.get((None, e164))
        if script is not None:
            return Callee(list(script.turns), "script", analysis=script.analysis)
        magic = MAGIC_NUMBERS.get(e164)
        if magic is not None:
            return Callee([], "magic", magic=magic)
        return generated_callee()


def generated_callee() -> Callee:
    """Two or three plausible lines from a faker persona, then goodbye (reproducible with --seed)."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(ids.rng().randrange(2**32))
    name = fake.first_name()
    lines = [
        f"Hello, this is {name}.",
        f"I was hoping to ask about {fake.bs()}.",
        f"Could you also check the address {fake.street_address()} in {fake.city()}?",
    ]
    count = 2 + ids.rng().randrange(2)
    turns = [Turn("say", text=line) for line in lines[:count]]
    turns.append(Turn("say", text="Okay, thank you. Goodbye!"))
    return Callee(turns, "generated", persona={"name": name})
