"""Caller scripts: what the person on the other end says and does, turn by turn.

A turn is one of:
  {"say": "text"}                      the caller speaks
  {"say": "text", "interrupt": true}   the caller barges in on the agent's reply to the previous turn
  {"say": "text", "tool": {"name": "lookup_order", "arguments": {"order_id": "4417"}}}
                                       a hosted agent uses this custom tool to answer this turn
  {"silence": seconds}                 the caller says nothing for a while
  {"press": "1#"}                      the caller presses keypad digits (DTMF)
  {"hangup": true}                     the caller hangs up
  {"on_digits": {"1": [turns], "2": [turns], "default": [turns]}}
                                       an IVR menu: the branch for the digits the agent pressed
                                       last is played next ("default" catches the rest; with no
                                       match and no default the menu is skipped)
  {"persona": true}                    the caller's persona (or its driver) speaks from here until
                                       it stops, then the script goes on

A say or press turn may carry disturbances: `"fault": "stale-timestamp"` (or a list) and
`"noise": "garbled"` (or a list); see FAULTS and NOISES.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import Invalid

DTMF = re.compile(r"[0-9*#wW]+")
MAX_TURNS = 500
MAX_SAY = 2_000

# Per-turn faults. The first five change how that turn's webhook is signed (one at most per turn).
SIGNING_FAULTS = ("no-signature", "bad-signature", "stale-timestamp", "reused-id", "tampered-body")
FAULTS = (*SIGNING_FAULTS, "webhook-timeout", "api-error", "slow-speech")
NOISES = ("low-confidence", "garbled", "overlap")
KINDS = ("say", "silence", "press", "hangup", "on_digits", "persona")


def disturbances(value: object, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A `fault` or `noise` value (one name or a list of names) as a tuple; ValueError names what is wrong."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"must be one of {', '.join(allowed)}, or a list of them")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ValueError(f"has unknown {what} {unknown[0]!r}: use {', '.join(allowed)}")
    if what == "fault" and sum(n in SIGNING_FAULTS for n in names) > 1:
        raise ValueError(f"may hold one signing fault at most ({', '.join(SIGNING_FAULTS)})")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Turn:
    kind: str  # say | silence | press | hangup | menu | persona
    text: str = ""
    interrupt: bool = False
    seconds: float = 0.0
    digits: str = ""
    branches: dict[str, list[Turn]] = field(default_factory=dict)
    path: str = ""  # where the turn stands in its script, e.g. "turns[1].on_digits.2[0]", or "persona[3]"
    fault: tuple[str, ...] = ()
    noise: tuple[str, ...] = ()
    note: str = ""  # why a persona said it (the rule that chose the turn); recorded with the turn
    tool: dict[str, Any] | None = None  # {"name", "arguments"}: the tool a hosted agent uses on this turn

    def to_json(self) -> dict[str, Any]:
        if self.kind == "say":
            out: dict[str, Any] = {"say": self.text, **({"interrupt": True} if self.interrupt else {}),
                                   **({"tool": self.tool} if self.tool else {})}
        elif self.kind == "silence":
            out = {"silence": self.seconds}
        elif self.kind == "press":
            out = {"press": self.digits}
        elif self.kind == "hangup":
            out = {"hangup": True}
        elif self.kind == "persona":
            out = {"persona": True}
        else:
            out = {"on_digits": {k: [t.to_json() for t in v] for k, v in self.branches.items()}}
        if self.fault:
            out["fault"] = list(self.fault)
        if self.noise:
            out["noise"] = list(self.noise)
        return out


def parse_turns(value: Any, where: str = "turns") -> list[Turn]:
    """Validate a script; errors name the field path (e.g. `turns[2].on_digits.1[0].say`)."""
    if not isinstance(value, list):
        raise Invalid(f"Field '{where}' must be a list of turns.")
    if len(value) > MAX_TURNS:
        raise Invalid(f"Field '{where}' has more than {MAX_TURNS} turns.")
    return [parse_turn(item, f"{where}[{i}]") for i, item in enumerate(value)]


def parse_turn(item: Any, where: str) -> Turn:
    if not isinstance(item, dict):
        raise Invalid(f"Field '{where}' must be an object like {{\"say\": \"...\"}}.")
    kinds = [k for k in KINDS if k in item]
    if len(kinds) != 1:
        raise Invalid(f"Field '{where}' must have exactly one of say, silence, press, hangup, on_digits "
                      f"(got {sorted(item)}). A turn {{\"persona\": true}} hands the call to the caller's persona.")
    kind = kinds[0]
    allowed = {"say": {"say", "interrupt", "tool", "fault", "noise"},
               "press": {"press", "fault", "noise"}}.get(kind, {kind})
    extra = set(item) - allowed
    if extra:
        raise Invalid(f"Field '{where}' has unknown keys {sorted(extra)} for a {kind} turn.")
    value = item[kind]
    disturbed: dict[str, Any] = {}
    for name, vocabulary in (("fault", FAULTS), ("noise", NOISES)):
        if name in item:
            try:
                disturbed[name] = disturbances(item[name], vocabulary, name)
            except ValueError as exc:
                raise Invalid(f"Field '{where}.{name}' {exc}.") from None
    if kind == "say":
        if not isinstance(value, str) or not value.strip():
            raise Invalid(f"Field '{where}.say' must be a non-empty string.")
        if len(value) > MAX_SAY:
            raise Invalid(f"Field '{where}.say' must be at most {MAX_SAY} characters.")
        interrupt = item.get("interrupt", False)
        if not isinstance(interrupt, bool):
            raise Invalid(f"Field '{where}.interrupt' must be true or false.")
        return Turn("say", text=value, interrupt=interrupt, path=where, tool=_tool(item.get("tool"), where),
                    **disturbed)
    if kind == "silence":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
            raise Invalid(f"Field '{where}.silence' must be a number of seconds between 0 and 3600.")
        return Turn("silence", seconds=float(value), path=where)
    if kind == "press":
        if not isinstance(value, str) or not DTMF.fullmatch(value):
            raise Invalid(f"Field '{where}.press' must be keypad digits (0-9, *, #, w), like \"1#\".")
        return Turn("press", digits=value, path=where, **disturbed)
    if kind == "hangup":
        if value is not True:
            raise Invalid(f"Field '{where}.hangup' must be true.")
        return Turn("hangup", path=where)
    if kind == "persona":
        if value is not True:
            raise Invalid(f"Field '{where}.persona' must be true: the caller's persona speaks from here.")
        return Turn("persona", path=where)
    if not isinstance(value, dict) or not value:
        raise Invalid(f"Field '{where}.on_digits' must map digits to lists of turns, like {{\"1\": [...]}}.")
    branches = {}
    for digits, turns in value.items():
        if not (digits == "default" or DTMF.fullmatch(digits)):
            raise Invalid(f"Field '{where}.on_digits' has key {digits!r}: use keypad digits or 'default'.")
        branches[digits] = parse_turns(turns, f"{where}.on_digits.{digits}")
    return Turn("menu", branches=branches, path=where)


def _tool(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"] \
            or set(value) - {"name", "arguments"} or not isinstance(value.get("arguments", {}), dict):
        raise Invalid(f"Field '{where}.tool' must be {{\"name\": \"<a custom tool>\", \"arguments\": {{...}}}}.")
    return {"name": value["name"], "arguments": dict(value.get("arguments", {}))}


def branch_for(menu: Turn, digits: str) -> list[Turn] | None:
    """The IVR branch for what the agent pressed: exact digits, else the first digit, else `default`."""
    for key in (digits, digits[:1], "default"):
        if key in menu.branches:
            return menu.branches[key]
    return None
