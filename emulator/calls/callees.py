"""Who answers an outbound call: a registered script, a magic number, or a generated caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator import ids
from emulator.calls.caller import Caller, DrivenCaller, ScriptCaller
from emulator.calls.script import Turn, parse_turns
from emulator.errors import Invalid

if TYPE_CHECKING:
    from emulator.calls.persona import Persona


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


@dataclass(frozen=True)
class Definition:
    """Who a caller is: scripted turns, and a persona (or an outside driver) that speaks where the script
    hands over to it (`{"persona": true}`, else after the last turn)."""

    turns: list[Turn]
    persona: Persona | None = None
    seed: int = 0
    drive: bool = False
    analysis: dict[str, Any] | None = None  # what its calls' end reports instead of the derived analysis

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"turns": [turn.to_json() for turn in self.turns]}
        if self.analysis is not None:
            out["analysis"] = self.analysis
        if self.persona is not None:
            out["persona"] = self.persona.model_dump(by_alias=True, exclude_defaults=True)
            out["seed"] = self.seed
        if self.drive:
            out["drive"] = True
        return out


def parse_definition(data: dict[str, Any], where: str = "") -> Definition:
    """`{"turns": [...], "persona": {...}, "seed": 7, "drive": false}`; errors name the field path."""
    from emulator.calls.persona import parse_persona

    prefix = f"{where}." if where else ""
    turns = parse_turns(data.get("turns") if data.get("turns") is not None else [], f"{prefix}turns")
    persona = parse_persona(data["persona"], f"{prefix}persona") if data.get("persona") is not None else None
    seed, drive = data.get("seed", 0), data.get("drive", False)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise Invalid(f"Field '{prefix}seed' must be an integer (the persona's random choices follow it).")
    if not isinstance(drive, bool):
        raise Invalid(f"Field '{prefix}drive' must be true or false.")
    if persona is not None and drive:
        raise Invalid(f"Send one of '{prefix}persona' or '{prefix}drive', not both: the persona speaks itself, "
                      "a driven caller's turns arrive through POST /_emulator/calls/{callId}/caller.")
    marker = next((t for t in turns if t.kind == "persona"), None)
    if marker is not None and persona is None and not drive:
        raise Invalid(f"Field '{marker.path}' hands the call to a persona, but none is given: add "
                      f"'{prefix}persona' (or '{prefix}drive': true).")
    return Definition(turns, persona, seed, drive)


@dataclass
class Callee:
    turns: list[Turn]
    source: str  # script | magic | generated | inbound | web
    magic: Magic | None = None
    persona: dict[str, Any] = field(default_factory=dict)  # who a generated caller is
    definition: Definition | None = None
    analysis: dict[str, Any] | None = None  # what the call's end reports instead of the derived analysis

    @classmethod
    def of(cls, definition: Definition, source: str) -> Callee:
        return cls(list(definition.turns), source, definition=definition, analysis=definition.analysis)

    def caller(self) -> Caller:
        """A fresh caller for one call (a persona keeps its own state per call)."""
        spec = self.definition
        if spec is None or (spec.persona is None and not spec.drive):
            return ScriptCaller(self.turns)
        if spec.drive:
            return ScriptCaller(self.turns, DrivenCaller())
        from emulator.calls.persona import PersonaCaller

        assert spec.persona is not None
        persona = PersonaCaller(spec.persona, spec.seed)
        script = ScriptCaller(self.turns, persona)
        persona.finishing = lambda: script.finishing
        return script


Scope = str | None  # an account ID, or None for a script every account's calls reach


class CalleeBook:
    """Scripts registered per destination through the control API (kept until removed or reset).

    A script can be registered for every account or for one account only; calls of that account
    reach its own script first, so parallel test runs can script the same destination apart."""

    def __init__(self) -> None:
        self._scripts: dict[tuple[Scope, str], Definition] = {}

    def put(self, e164: str, turns_json: Any, scope: Scope = None,
            analysis: dict[str, Any] | None = None) -> Definition:
        """A scripted callee (turns only; `define` takes any definition)."""
        return self.define(e164, Definition(parse_turns(turns_json), analysis=analysis), scope)

    def define(self, e164: str, definition: Definition, scope: Scope = None) -> Definition:
        self._scripts[(scope, e164)] = definition
        return definition

    def get(self, e164: str, scope: Scope = None) -> Definition | None:
        return self._scripts.get((scope, e164))

    def remove(self, e164: str, scope: Scope = None) -> bool:
        return self._scripts.pop((scope, e164), None) is not None

    def clear(self, scope: Scope = None) -> None:
        if scope is None:
            self._scripts.clear()
        else:
            self._scripts = {k: v for k, v in self._scripts.items() if k[0] != scope}

    def all(self) -> dict[tuple[Scope, str], Definition]:
        return dict(self._scripts)

    def answer(self, e164: str, account_id: str | None = None) -> Callee:
        """The account's own script first, then one for everyone, then the magic numbers, else a generated
        caller."""
        script = self._scripts.get((account_id, e164)) if account_id else None
        if script is None:
            script = self._scripts.get((None, e164))
        if script is not None:
            return Callee.of(script, "script")
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
