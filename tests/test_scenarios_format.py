"""The scenario format's new fields (persona, its model, mustSay, seed, metric thresholds, per-turn faults and
noise) are validated before anything runs, each error naming the file and the field; discovery skips what runs
leave beside scenarios; and the metrics are computed from transcript rows as documented."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.scenarios import cli as scenario_cli
from emulator.scenarios import metrics
from emulator.scenarios.model import ScenarioError, build, discover, span_seconds, span_text

BASE = {"name": "Format", "direction": "inbound", "from": "+14155550171"}


@pytest.mark.parametrize(("extra", "message"), [
    ({"persona": {"goal": "x", "temperament": {"patience": 0}}},
     "Field 'persona.temperament.patience' must be at least 1."),
    ({"persona": {"goal": "x", "model": {"temperature": 5}}}, "Field 'persona.model.temperature' must be at most 2."),
    ({"persona": {"goal": "x", "model": {"nmae": "gpt"}}}, "Field 'persona.model.nmae' is invalid"),
    ({"persona": {"goal": "x", "knows": {"pin": 1234}}}, "Field 'persona.knows.pin' must be a string."),
    ({"persona": {"goal": "x", "disturb": [{"turn": 0}]}}, "Field 'persona.disturb[0].turn' must be at least 1."),
    ({"persona": {"goal": "x", "disturb": [{"turn": 1, "fault": "explode"}]}},
     "Field 'persona.disturb[0].fault' is invalid: Value error, has unknown fault 'explode'"),
    ({"persona": {"goal": "x"}, "channel": "sms", "messages": [{"send": "hi"}]},
     "Field 'persona' applies to calls: an sms scenario lists its 'messages'."),
    ({"turns": [{"say": "hi"}, {"persona": True}]}, "Field 'turns[1]' hands the call to a persona, but none is given"),
    ({"turns": [{"say": "hi", "fault": "loud"}]}, "Field 'turns[0].fault' has unknown fault 'loud'"),
    ({"turns": [{"say": "hi", "noise": ["garbled", "hiss"]}]}, "Field 'turns[0].noise' has unknown noise 'hiss'"),
    ({"expect": {"metrics": {"deadAir": 0}}}, "Field 'expect.metrics' is invalid: Value error, has unknown metric "
                                              "'deadAir': use turns, deadAirTurns"),
    ({"expect": {"metrics": {"turns": {"least": 1}}}}, "Field 'expect.metrics.turns"),
    ({"mustSay": "booked"}, "Field 'mustSay' must be a JSON array."),
    ({"seed": "7"}, "Field 'seed' must be an integer."),
])
def test_new_fields_are_validated_with_their_path(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        build({**BASE, "turns": [{"say": "hi"}], **extra}, "suite/x.yaml")
    assert str(err.value).startswith("suite/x.yaml: "), err.value
    assert message in str(err.value)


def test_a_malformed_persona_fails_the_run_before_anything_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**BASE, "persona": {"goal": "x", "stop": {"maxTurns": 0}}}))
    out = io.StringIO()
    assert scenario_cli.run([str(bad)], base_url="http://127.0.0.1:9", out=out) == 2
    assert out.getvalue() == f"error: {bad}: Field 'persona.stop.maxTurns' must be at least 1.\n"


def test_the_caller_sent_for_a_persona_a_model_and_a_script(tmp_path: Path) -> None:
    persona = build({**BASE, "persona": {"goal": "g", "knows": {"a": "b"}}, "seed": 5}, "x")
    assert persona.caller(0) == {"turns": [], "persona": {"goal": "g", "knows": {"a": "b"}}, "seed": 5}
    assert build({**BASE, "persona": {"goal": "g"}}, "x").caller(9)["seed"] == 9  # the run's --seed
    model = build({**BASE, "persona": {"goal": "g", "model": {"name": "m"}}, "turns": [{"say": "hi"}]}, "x")
    assert model.caller(0) == {"turns": [{"say": "hi"}], "drive": True}  # the runner speaks for it
    assert build({**BASE, "turns": [{"say": "hi"}]}, "x").caller(0) == {"turns": [{"say": "hi"}]}


def test_discovery_skips_cassettes_and_baselines_and_finds_their_places(tmp_path: Path) -> None:
    (tmp_path / "baselines").mkdir()
    (tmp_path / "a.yaml").write_text(yaml.safe_dump([{**BASE, "name": "one"}, {**BASE, "name": "two"}]))
    (tmp_path / "b.json").write_text('{"name": "three", "direction": "inbound", "from": "+14155550172"}')
    (tmp_path / "a.cassette.json").write_text('{"exchanges": []}')
    (tmp_path / "baselines" / "main.baseline.json").write_text('{"scenarios": {}}')
    found = discover([str(tmp_path)])
    assert [f.scenario.name for f in found] == ["one", "two", "three"]
    assert [f.cassette.name for f in found] == ["a.0.cassette.json", "a.1.cassette.json", "b.cassette.json"]
    named = build({**BASE, "persona": {"goal": "g", "model": {"cassette": "calls/x.json"}}}, "x")
    named.file = tmp_path / "s.yaml"
    assert named.cassette == tmp_path / "calls" / "x.json"


def row(kind: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "transcript": "", "response": fields.pop("response", "ok"), **fields}


def test_call_metrics_from_the_rows() -> None:
    rows = [
        row("greeting", response="Hello"),
        row("speech", firstChunkMs=10.0, finalChunkMs=40.0, interrupted=True),
        row("speech", response=None, error="HTTP 500", fault=["api-error"]),
        row("dtmf", callerDigits="12", digits="3", firstChunkMs=30.0, finalChunkMs=30.0, noise=["garbled"]),
        row("silence", response=None, seconds=2),
        row("speech", firstChunkMs=20.0, finalChunkMs=90.0, digits="45"),
        row("hangup", response=None),
    ]
    figures = metrics.of_call({"endReason": "caller-hangup", "durationSeconds": 31}, rows, 3, 4)
    assert figures == {
        "turns": 6, "deadAirTurns": 2, "interruptions": 1, "digitsPressed": 3, "callerDigitsPressed": 2,
        "faultedTurns": 1, "noisyTurns": 1, "firstChunkMsP50": 20.0, "firstChunkMsP95": 30.0,
        "finalChunkMsP50": 40.0, "finalChunkMsP95": 90.0, "secondsToTransfer": None, "secondsToHangup": 31,
        "durationSeconds": 31, "expectations": 4, "expectationsPassed": 3,
    }
    transferred = metrics.of_call({"endReason": "transferred", "durationSeconds": 12}, rows[:2], 1, 1)
    assert (transferred["secondsToTransfer"], transferred["secondsToHangup"]) == (12, None)
    suite = metrics.of_suite([figures, transferred], [rows, rows[:2]])
    assert suite["calls"] == 2 and suite["turns"] == 7 and suite["interruptions"] == 2
    assert suite["finalChunkMsP50"] == 40.0 and suite["firstChunkMsP95"] == 30.0


@pytest.mark.parametrize(("values", "p50", "p95"), [
    ([], None, None), ([5.0], 5.0, 5.0), ([1.0, 2.0], 1.0, 2.0), ([float(v) for v in range(1, 101)], 50.0, 95.0),
    ([3.0, 1.0, 2.0], 2.0, 3.0),
])
def test_percentiles_are_nearest_rank(values: list[float], p50: float | None, p95: float | None) -> None:
    assert (metrics.percentile(values, 0.5), metrics.percentile(values, 0.95)) == (p50, p95)


def test_the_readmes_scenario_examples_are_valid_scenarios() -> None:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = text[text.index("\n## Scenarios"):text.index("\n## Fixtures")]
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL) if b.startswith("name:")]
    assert len(blocks) >= 4
    for block in blocks:
        build(yaml.safe_load(block), "README.md")
    fragments = [b for b in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL) if b.startswith("expect:")]
    for fragment in fragments:  # a block of expectations only: valid beside a name
        build({**BASE, **yaml.safe_load(fragment)}, "README.md")


@pytest.mark.parametrize(("after", "seconds"), [
    ("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("1.5d", 129_600), (30, 30), (0.5, 0.5), (" 2H ", 7200)])
def test_after_reads_a_time_span(after: object, seconds: float) -> None:
    loaded = build({"name": "Gap", "channel": "sms", "messages": [{"send": "hi"}, {"send": "again", "after": after}]},
                   "x")
    assert [m.after for m in loaded.scenario.messages] == [None, seconds]


@pytest.mark.parametrize("after", ["soon", "2 hours", "h", "-1h", "2h-", 400 * 86_400, True, [1]])
def test_a_bad_after_names_the_field(after: object) -> None:
    with pytest.raises(ScenarioError) as err:
        build({"name": "Gap", "channel": "sms", "messages": [{"send": "hi", "after": after}]}, "suite/x.yaml")
    message = str(err.value)
    assert message.startswith("suite/x.yaml: Field 'messages[0].after'"), message
    assert "time span" in message or "366 days" in message, message


def test_span_text_is_read_back_by_after() -> None:
    for seconds in (45, 60, 7200, 5430, 90_061):
        assert span_seconds(span_text(seconds)) == seconds
    assert span_text(5430) == "1h30m30s" and span_text(0) == "0s"
