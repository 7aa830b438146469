"""Who answers an outbound call: a registered script, a magic number, or a generated caller."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from emulator import ids
from emulator.bounded import Lru
from emulator.calls.caller import Caller, DrivenCaller, ScriptCaller
from emulator.calls.script import Turn, parse_turns
from emulator.errors import Invalid, Refused

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
    """Callers registered per destination through the control API (kept until removed or reset).

    A script can be registered for every account or for one account only; calls of that account
    reach its own script first, so parallel test runs can script the same destination apart.

    Bounded: at most PER_SCOPE scripts for one account (or for everyone), a new one past that refused;
    at most TOTAL account scripts together, the least recently used accounts' scripts dropped past that."""

    PER_SCOPE = 200
    TOTAL = 10_000

    def __init__(self) -> None:
        self._everyone: dict[str, Definition] = {}
        # Never full by its own limit: define() drops whole accounts to keep TOTAL scripts.
        self._accounts: Lru[str, dict[str, Definition]] = Lru(self.TOTAL + 1)
        self._counted = 0  # scripts in self._accounts

    def _book(self, scope: Scope, create: bool = False) -> dict[str, Definition] | None:
        if scope is None:
            return self._everyone
        book = self._accounts.get(scope)
        if book is None and create:
            book = self._accounts[scope] = {}
        return book

    def put(self, e164: str, turns_json: Any, scope: Scope = None,
            analysis: dict[str, Any] | None = None) -> Definition:
        """A scripted callee (turns only; `define` takes any definition)."""
        return self.define(e164, Definition(parse_turns(turns_json), analysis=analysis), scope)

    def define(self, e164: str, definition: Definition, scope: Scope = None) -> Definition:
        book = self._book(scope, create=True)
        assert book is not None
        if e164 not in book and len(book) >= self.PER_SCOPE:
            raise Refused(f"At most {self.PER_SCOPE} callee scripts may be registered for one account (or for "
                          "everyone); remove some with DELETE /_emulator/callees/{e164} first.")
        if scope is not None and e164 not in book:
            self._counted += 1
            while self._counted > self.TOTAL and (oldest := self._accounts.oldest()) is not None \
                    and oldest[0] != scope:
                self._counted -= len(oldest[1])
                self._accounts.drop_oldest()
        book[e164] = definition
        return definition

    def get(self, e164: str, scope: Scope = None) -> Definition | None:
        book = self._book(scope)
        return None if book is None else book.get(e164)

    def remove(self, e164: str, scope: Scope = None) -> bool:
        book = self._book(scope)
        if book is None or book.pop(e164, None) is None:
            return False
        if scope is not None:
            self._counted -= 1
            if not book:
                self._accounts.pop(scope)
        return True

    def clear(self, scope: Scope = None) -> None:
        if scope is None:
            self._everyone.clear()
            self._accounts.clear()
            self._counted = 0
        else:
            self._counted -= len(self._accounts.pop(scope) or {})

    def count(self) -> int:
        """How many scripts are registered, for everyone and per account."""
        return len(self._everyone) + sum(len(book) for book in self._accounts.values())

    def all(self) -> dict[tuple[Scope, str], Definition]:
        scripts: dict[tuple[Scope, str], Definition] = {(None, e164): d for e164, d in self._everyone.items()}
        for account_id, book in self._accounts.items():
            scripts.update({(account_id, e164): d for e164, d in book.items()})
        return scripts

    def dump(self) -> dict[str, Any]:
        """Every script (accounts least recently used first), for the other processes on the database
        (emulator/shared.py)."""
        return {"everyone": {e164: d.to_json() for e164, d in self._everyone.items()},
                "accounts": [[account_id, {e164: d.to_json() for e164, d in book.items()}]
                             for account_id, book in self._accounts.items()]}

    def load(self, body: dict[str, Any] | None) -> None:
        body = body or {}
        self.clear()
        self._everyone.update({e164: _revived(data) for e164, data in (body.get("everyone") or {}).items()})
        for account_id, book in body.get("accounts") or []:
            self._accounts[account_id] = {e164: _revived(data) for e164, data in book.items()}
            self._counted += len(book)

    def answer(self, e164: str, account_id: str | None = None) -> Callee:
        """The account's own script first, then one for everyone, then the magic numbers, else a generated
        caller."""
        own = self._accounts.get(account_id) if account_id else None
        script = own.get(e164) if own else None
        if script is None:
            script = self._everyone.get(e164)
        if script is not None:
            return Callee.of(script, "script")
        magic = MAGIC_NUMBERS.get(e164)
        if magic is not None:
            return Callee([], "magic", magic=magic)
        return generated_callee()


def _revived(data: dict[str, Any]) -> Definition:
    definition = parse_definition(data)
    return replace(definition, analysis=data["analysis"]) if data.get("analysis") is not None else definition


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
