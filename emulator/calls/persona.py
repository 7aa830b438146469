"""A caller that pursues a goal: the built-in, rule-based persona engine (no network, no model).

A persona has a goal, facts it knows (and gives when the agent asks for them), facts it must be told
(the scenario checks the agent told them), a temperament and a stop rule. It reacts to what the
agent said, and its chances are drawn from a random source seeded with the call's `seed`, so the
same seed and the same agent make the same call.

Before each turn it reads the agent's last reply and applies the first rule that fits:
  1. it said goodbye last turn: it hangs up;
  2. every fact it must be told was told (`stop.whenTold`): "Thanks, that's everything I needed.
     Goodbye." (when scripted turns follow its part, it hands the call back instead);
  3. it has taken `stop.maxTurns` turns: "Sorry, I have to go now. Goodbye.";
  4. `temperament.patience` unhelpful replies in a row: "This isn't getting anywhere. I'll call back
     another time. Goodbye.";
  5. the agent read a menu ("press 2 for billing", "for billing, press 2") and
     `temperament.pressesDigits`: it presses the option whose words best match `menuChoice` (else its
     goal); the first option when none match;
  6. the agent asked for facts it knows (the reply asks something and holds the words of a fact's
     name, like "date of birth"): "My date of birth is December 10." (several are joined);
  7. `temperament.askForHumanAfter` unhelpful replies in a row, once: "Can I speak to a real person,
     please?";
  8. by chance `temperament.silence`: it says nothing for `silenceSeconds`; by chance
     `temperament.backchannels`, after a reply of 12 words or more (or streamed in chunks): "Mm-hmm.";
  9. its first turn: `opening` (default "Hi, I'm calling to <goal>."); later ones ask for the next fact
     it still must be told ("Can you tell me the <fact>?", in one of three wordings), or restate the goal.
A reply is unhelpful when it tells no new fact, asks for no fact it knows and reads no menu: silence,
an error, "Sorry, I didn't catch that", the same words again. By chance `temperament.interrupts` it
barges in on the agent's reply (the reply is cut after its first chunk).

Each turn is recorded with the rule that chose it (the transcript row's `persona`), and `disturb`
puts faults or noise on the persona's n-th turn (counted from 1).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from emulator.calls.caller import Heard
from emulator.calls.script import FAULTS, NOISES, Turn, disturbances
from emulator.errors import Invalid
from emulator.validation import describe

LONG_REPLY_WORDS = 12
STOPWORDS = {"a", "an", "the", "of", "my", "your", "to", "for", "and", "or", "on", "in", "is", "what"}
ASKS = re.compile(r"\?|\b(could|can|would) you (tell|give|confirm|provide|spell|share)\b"
                  r"|\b(may|can) i (have|get|take)\b|\bwhat(?:'s| is) your\b"
                  r"|\bplease (tell|give|confirm|provide|spell|share)\b", re.IGNORECASE)
DIGIT = r"(\d|\*|#)"
MENU_AFTER = re.compile(rf"press\s+{DIGIT}\s+(?:for|to)\s+([^.,;!?]+)", re.IGNORECASE)
MENU_BEFORE = re.compile(rf"(?:for|to)\s+([^.,;!?]+?),?\s+press\s+{DIGIT}", re.IGNORECASE)
WORD = re.compile(r"[a-z0-9']+")
ASK_TEMPLATES = ("Can you tell me the {fact}?", "What about the {fact}?", "And the {fact}, please?")


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True,
                              defer_build=True)


class Temperament(_Model):
    patience: Annotated[int, Field(ge=1, le=50)] = 3
    ask_for_human_after: Annotated[int, Field(ge=1, le=50)] | None = None
    interrupts: Annotated[float, Field(ge=0, le=1)] = 0.0
    backchannels: Annotated[float, Field(ge=0, le=1)] = 0.0
    silence: Annotated[float, Field(ge=0, le=1)] = 0.0
    silence_seconds: Annotated[float, Field(gt=0, le=60)] = 4.0
    presses_digits: bool = True


class Stop(_Model):
    max_turns: Annotated[int, Field(ge=1, le=100)] = 12
    when_told: bool = True


class Disturbance(_Model):
    turn: Annotated[int, Field(ge=1, le=100)]
    fault: str | list[str] | None = None
    noise: str | list[str] | None = None

    @field_validator("fault")
    @classmethod
    def _faults(cls, value: Any) -> Any:
        return value if value is None else list(disturbances(value, FAULTS, "fault"))

    @field_validator("noise")
    @classmethod
    def _noise(cls, value: Any) -> Any:
        return value if value is None else list(disturbances(value, NOISES, "noise"))


Phrase = Annotated[str, Field(min_length=1, max_length=200)]
Phrases = Phrase | list[Phrase]


class Persona(_Model):
    goal: Annotated[str, Field(min_length=1, max_length=500)]
    name: Annotated[str, Field(max_length=100)] | None = None
    opening: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    knows: dict[str, Annotated[str, Field(max_length=500)]] = {}
    must_be_told: dict[str, Phrases] = {}
    menu_choice: Annotated[str, Field(max_length=200)] | None = None
    temperament: Temperament = Temperament()
    stop: Stop = Stop()
    disturb: list[Disturbance] = []

    def phrases(self, fact: str) -> list[str]:
        value = self.must_be_told[fact]
        return [value] if isinstance(value, str) else list(value)


def parse_persona(value: Any, where: str = "persona") -> Persona:
    if not isinstance(value, dict):
        raise Invalid(f"Field '{where}' must be an object with at least a 'goal'.")
    try:
        return Persona.model_validate(value)
    except ValidationError as exc:
        raise Invalid(describe(exc).replace("Field '", f"Field '{where}.")) from None


def words(text: str) -> set[str]:
    found = set(WORD.findall(text.lower()))
    return found | {w[:-1] for w in found if w.endswith("s")}


def key_words(name: str) -> set[str]:
    return {w for w in WORD.findall(name.lower()) if w not in STOPWORDS} or set(WORD.findall(name.lower()))


def menu_options(text: str) -> list[tuple[str, str]]:
    """(digits, label) for every option a reply reads out, in the order they were read."""
    found = [(m.start(), m.group(1), m.group(2)) for m in MENU_AFTER.finditer(text)]
    found += [(m.start(), m.group(2), m.group(1)) for m in MENU_BEFORE.finditer(text)]
    return [(digits, label.strip()) for _at, digits, label in sorted(found)]


class PersonaCaller:
    """One call's persona: the rules above, with state (facts told, patience left) kept per call."""

    def __init__(self, persona: Persona, seed: int = 0) -> None:
        self.persona = persona
        self.rng = random.Random(f"persona:{seed}")
        self.told: set[str] = set()
        self.answered: set[str] = set()
        self.unhelpful = 0
        self.turns = 0
        self.asked_for_human = False
        self.closing = False
        self.barging = False
        self.last_reply: str | None = None
        self.finishing: Callable[[], bool] = lambda: True  # nothing scripted follows its part

    # -- reading the agent -----------------------------------------------------------------------------------

    def _asked_for(self, text: str) -> list[str]:
        if not ASKS.search(text):
            return []
        heard = words(text)
        return [fact for fact in self.persona.knows if key_words(fact) <= heard]

    def _newly_told(self, text: str) -> list[str]:
        lowered = text.lower()
        return [fact for fact in self.persona.must_be_told if fact not in self.told
                and any(p.lower() in lowered for p in self.persona.phrases(fact))]

    def _choose(self, options: list[tuple[str, str]]) -> tuple[str, str]:
        wanted = key_words(self.persona.menu_choice or self.persona.goal)
        scored = [(len(key_words(label) & wanted), -i, digits, label) for i, (digits, label) in enumerate(options)]
        best = max(scored)
        return best[2], best[3]

    # -- the next turn ---------------------------------------------------------------------------------------

    async def next_turn(self, heard: Heard) -> Turn | None:
        silence_draw, backchannel_draw, wording_draw = self.rng.random(), self.rng.random(), self.rng.random()
        turn = self._decide(heard, silence_draw, backchannel_draw, wording_draw)
        if turn is None:
            return None
        self.turns += 1
        fault: tuple[str, ...] = ()
        noise: tuple[str, ...] = ()
        for planned in self.persona.disturb:
            if planned.turn == self.turns and turn.kind in ("say", "press"):
                fault, noise = tuple(planned.fault or ()), tuple(planned.noise or ())
        interrupt, self.barging = self.barging and turn.kind == "say", False
        return Turn(turn.kind, text=turn.text, interrupt=interrupt, seconds=turn.seconds, digits=turn.digits,
                    path=f"persona[{self.turns - 1}]", fault=fault, noise=noise, note=turn.note)

    def barges_in(self) -> bool:
        self.barging = self.rng.random() < self.persona.temperament.interrupts
        return self.barging

    def _decide(self, heard: Heard, silence_draw: float, backchannel_draw: float, wording_draw: float) -> Turn | None:
        p, mood = self.persona, self.persona.temperament
        if self.closing:
            return Turn("hangup", note="hangs up after its goodbye")
        text = heard.text if not heard.error else ""
        new = self._newly_told(text)
        self.told.update(new)
        asked = self._asked_for(text)
        options = menu_options(text) if mood.presses_digits else []
        if heard.asked and not heard.greeting:
            progress = bool(new) or bool(options) or any(f not in self.answered for f in asked)
            repeated = bool(text) and text == self.last_reply
            self.unhelpful = 0 if progress and not repeated else self.unhelpful + 1
        if text:
            self.last_reply = text
        if p.must_be_told and p.stop.when_told and self.told >= set(p.must_be_told):
            if not self.finishing():
                return None
            return self._goodbye("Thanks, that's everything I needed. Goodbye.", "was told everything it needed")
        if self.turns >= p.stop.max_turns:
            return self._goodbye("Sorry, I have to go now. Goodbye.", f"stops after {p.stop.max_turns} turns")
        if self.unhelpful >= mood.patience:
            return self._goodbye("This isn't getting anywhere. I'll call back another time. Goodbye.",
                                 f"out of patience after {self.unhelpful} unhelpful replies")
        if options:
            digits, label = self._choose(options)
            return Turn("press", digits=digits, note=f"presses {digits} for {label!r} in the menu")
        if asked:
            self.answered.update(asked)
            answer = " ".join(f"My {fact} is {p.knows[fact]}." for fact in asked)
            return Turn("say", text=answer, note="gives what it knows: " + ", ".join(asked))
        if (mood.ask_for_human_after is not None and self.unhelpful >= mood.ask_for_human_after
                and not self.asked_for_human):
            self.asked_for_human = True
            return Turn("say", text="Can I speak to a real person, please?",
                        note=f"asks for a human after {self.unhelpful} unhelpful replies")
        if self.turns and silence_draw < mood.silence:
            return Turn("silence", seconds=mood.silence_seconds, note="goes silent")
        long_reply = len(text.split()) >= LONG_REPLY_WORDS or heard.chunks > 1
        if self.turns and long_reply and backchannel_draw < mood.backchannels:
            return Turn("say", text="Mm-hmm.", note="backchannel")
        if not self.turns:
            return Turn("say", text=p.opening or f"Hi, I'm calling to {p.goal}.", note="opening")
        pending = [fact for fact in p.must_be_told if fact not in self.told]
        if pending:
            wording = ASK_TEMPLATES[int(wording_draw * len(ASK_TEMPLATES))]
            return Turn("say", text=wording.format(fact=pending[0]), note=f"asks to be told the {pending[0]}")
        return Turn("say", text=f"I'm calling to {p.goal}.", note="restates its goal")

    def _goodbye(self, text: str, why: str) -> Turn | None:
        if not self.finishing():
            return None
        self.closing = True
        return Turn("say", text=text, note=why)
