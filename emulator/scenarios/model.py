"""The scenario file format (YAML, or JSON), validated before anything runs.

A malformed scenario fails with the file, the field path and what was expected.
See the README's "Scenarios" section for the whole format.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from emulator.calls.callees import parse_definition
from emulator.calls.persona import Persona
from emulator.errors import Problem
from emulator.scenarios.metrics import METRICS
from emulator.validation import describe
from emulator.wire.agents import CreateAgent
from emulator.wire.control import CallAnalysis

SUFFIXES = (".yaml", ".yml", ".json")
NOT_SCENARIOS = (".cassette.json", ".baseline.json")


class ScenarioError(Exception):
    """A scenario file that cannot run: names the file, the field and what was expected."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True,
                              defer_build=True)


def _regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
    return value


class Bounds(_Model):
    min: float | None = None
    max: float | None = None


class TurnExpect(_Model):
    contains: str | list[str] | None = None
    not_contains: str | list[str] | None = None
    matches: str | None = None
    hangup: bool | None = None
    transfer: bool | None = None
    digits: str | None = None
    not_silent: bool | None = None
    silent: bool | None = None
    interrupted: bool | None = None
    first_chunk_ms_under: Annotated[float, Field(gt=0)] | None = None

    _check_regex = field_validator("matches")(_regex)


class CallExpect(_Model):
    status: str | None = None
    end_reason: str | None = None
    duration_seconds: Bounds | None = None
    transcript_contains: str | list[str] | None = None
    deliveries: int | Bounds | None = None
    deliveries_ok: bool | None = None
    metrics: dict[str, float | Bounds] | None = None  # thresholds on the call's metrics (see metrics.METRICS)

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: dict[str, float | Bounds] | None) -> dict[str, float | Bounds] | None:
        for name in value or {}:
            if name not in METRICS:
                raise ValueError(f"has unknown metric {name!r}: use {', '.join(METRICS)}")
        return value


class ChatModel(_Model):
    """A caller backed by an OpenAI-compatible chat endpoint, replayed from a cassette."""

    name: str | None = None  # the model; else $AGENTPHONE_CALLER_MODEL
    cassette: str | None = None  # beside the scenario; default <scenario file>.cassette.json
    instructions: Annotated[str, Field(max_length=4000)] = ""
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0


class ScenarioPersona(Persona):
    model: ChatModel | None = None


_SPAN = re.compile(r"([0-9]+(?:\.[0-9]+)?)([dhms])")
_UNIT = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
MAX_AFTER_SECONDS = 366 * 86_400


def span_seconds(value: object) -> float:
    """A time span as seconds: a number of seconds, or units run together (`2h`, `90m`, `1h30m`, `1.5d`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a time span such as 2h, 30m, 1h30m or a number of seconds")
    if isinstance(value, str):
        text = value.strip().lower()
        parts = _SPAN.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"must be a time span such as 2h, 30m, 1h30m or a number of seconds (got {value!r})")
        value = sum(float(n) * _UNIT[u] for n, u in parts)
    if not 0 <= value <= MAX_AFTER_SECONDS:
        raise ValueError(f"must be between 0 seconds and 366 days (got {value!r} seconds)")
    return float(value)


def span_text(seconds: float) -> str:
    """Whole seconds written as `span_seconds` reads them (7200 -> 2h, 5430 -> 1h30m30s)."""
    left, out = round(seconds), ""
    for unit, size in _UNIT.items():
        if left >= size:
            out += f"{left // size}{unit}"
            left %= size
    return out or "0s"


class SmsStep(_Model):
    send: Annotated[str, Field(min_length=1)]
    after: float | None = None  # how long after the previous message (the account's clock moves that far)
    expect: TurnExpect | None = None

    @field_validator("after", mode="before")
    @classmethod
    def _span(cls, value: object) -> float | None:
        return None if value is None else span_seconds(value)


class FixtureAgent(_Model):
    fixture: str  # an agent ID loaded from a fixture, under the scenario's `key`


class Scenario(_Model):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    channel: Literal["voice", "sms"] = "voice"
    key: str | None = None
    agent: dict[str, Any] | None = None
    webhook: str | None = None
    context_limit: Annotated[int, Field(ge=0, le=50)] | None = None
    timeout: Annotated[int, Field(ge=5, le=120)] | None = None
    direction: Literal["inbound", "outbound"] = "outbound"
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    variables: dict[str, str] | None = None
    initial_greeting: str | None = None
    system_prompt: str | None = None
    turns: list[Any] = []
    analysis: dict[str, Any] | None = None  # what the call's agent.call_ended reports instead of the derived analysis
    messages: list[SmsStep] = []
    persona: ScenarioPersona | None = None
    seed: int | None = None  # the persona's seed; else the run's --seed
    must_say: list[Annotated[str, Field(min_length=1)]] = []  # phrases a baseline comparison insists on
    expect: CallExpect = CallExpect()
    wait_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    reply_wait_seconds: Annotated[float, Field(gt=0, le=120)] = 5.0


@dataclass
class Loaded:
    """A validated scenario, its source, the engine's script and the expectations per turn path."""

    scenario: Scenario
    source: str
    script: list[dict[str, Any]]
    turn_expects: dict[str, TurnExpect]
    fixture_agent: str | None
    agent_fields: dict[str, Any]
    file: Path | None = None  # the file it came from (a model caller's cassette lies beside it)
    index: int | None = None  # its place in a file holding a list of scenarios

    def caller(self, seed: int) -> dict[str, Any]:
        """Who the emulator puts on the line: the script, and the persona (or drive, for a model caller)."""
        persona = self.scenario.persona
        out: dict[str, Any] = {"turns": self.script}
        if persona is not None and persona.model is not None:
            out["drive"] = True
        elif persona is not None:
            out["persona"] = persona.model_dump(by_alias=True, exclude={"model"}, exclude_defaults=True)
            out["seed"] = self.scenario.seed if self.scenario.seed is not None else seed
        return out

    @property
    def cassette(self) -> Path:
        """Where a model caller's exchanges are recorded."""
        chosen = self.scenario.persona.model.cassette if self.scenario.persona and self.scenario.persona.model else None
        folder = self.file.parent if self.file is not None else Path(".")
        if chosen:
            return folder / chosen
        stem = self.file.stem if self.file is not None else "scenario"
        return folder / f"{stem}{'' if self.index is None else f'.{self.index}'}.cassette.json"


def _strip_expects(turns: Any, where: str, found: dict[str, TurnExpect]) -> Any:
    """Split `expect` blocks off the turns (recursively through IVR branches), keyed by turn path."""
    if not isinstance(turns, list):
        return turns
    out = []
    for i, turn in enumerate(turns):
        path = f"{where}[{i}]"
        if isinstance(turn, dict):
            turn = dict(turn)
            if "expect" in turn:
                try:
                    found[path] = TurnExpect.model_validate(turn.pop("expect"))
                except ValidationError as exc:
                    raise ScenarioError(_prefixed(describe(exc), f"{path}.expect")) from None
            if isinstance(turn.get("on_digits"), dict):
                turn["on_digits"] = {k: _strip_expects(v, f"{path}.on_digits.{k}", found)
                                     for k, v in turn["on_digits"].items()}
        out.append(turn)
    return out


def _prefixed(detail: str, prefix: str) -> str:
    return detail.replace("Field '", f"Field '{prefix}.")


def build(data: Any, source: str) -> Loaded:
    """Validate one scenario document; every error names `source` and the field path."""
    try:
        if not isinstance(data, dict):
            raise ScenarioError("a scenario must be a mapping (name, agent, turns, expect, ...)")
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(describe(exc)) from None
        if scenario.analysis is not None:
            try:
                CallAnalysis.model_validate(scenario.analysis)
            except ValidationError as exc:
                raise ScenarioError(_prefixed(describe(exc), "analysis")) from None
        expects: dict[str, TurnExpect] = {}
        script = _strip_expects(scenario.turns, "turns", expects)
        persona = scenario.persona
        if persona is not None and scenario.channel == "sms":
            raise ScenarioError("Field 'persona' applies to calls: an sms scenario lists its 'messages'.")
        try:
            parse_definition({"turns": script, "persona": {"goal": "checked"} if persona else None})
        except Problem as exc:
            raise ScenarioError(exc.detail) from None
        fixture_agent, fields = None, {}
        agent = scenario.agent or {}
        if "fixture" in agent:
            try:
                fixture_agent = FixtureAgent.model_validate(agent).fixture
            except ValidationError as exc:
                raise ScenarioError(_prefixed(describe(exc), "agent")) from None
            if scenario.key is None:
                raise ScenarioError("Field 'key' is required with a fixture agent: the key its fixture loaded.")
        else:
            try:
                fields = CreateAgent.model_validate({"name": scenario.name, **agent}).model_dump(
                    by_alias=True, exclude_unset=True)
            except ValidationError as exc:
                raise ScenarioError(_prefixed(describe(exc), "agent")) from None
            fields.setdefault("name", scenario.name)
        if scenario.channel == "sms" and not scenario.messages:
            raise ScenarioError("Field 'messages' must list at least one message for an sms scenario.")
        if scenario.channel == "voice" and scenario.direction == "inbound" and not scenario.from_:
            raise ScenarioError("Field 'from' is required for an inbound call: the caller's E.164 number.")
        return Loaded(scenario, source, script, expects, fixture_agent, fields)
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def load_file(path: Path) -> list[Loaded]:
    """One file may hold one scenario, or a list of them."""
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario: {exc}") from None
    many = isinstance(data, list)
    out = []
    for i, doc in enumerate(data if many else [data]):
        loaded = build(doc, f"{path}" + (f"[{i}]" if many else ""))
        loaded.file, loaded.index = path, i if many else None
        out.append(loaded)
    return out


def is_scenario_file(path: Path) -> bool:
    """Scenario files, not what runs leave beside them (model cassettes, saved baselines)."""
    return path.suffix in SUFFIXES and not path.name.endswith(NOT_SCENARIOS) and path.is_file()


def discover(paths: list[str]) -> list[Loaded]:
    """Every scenario under the given files and directories, in a stable (sorted) order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if is_scenario_file(p))
        elif path.is_file():
            files.append(path)
        else:
            raise ScenarioError(f"{path}: no such file or directory.")
    loaded: list[Loaded] = []
    for file in files:
        loaded += load_file(file)
    return loaded
