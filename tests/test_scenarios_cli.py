"""`agentphone-emulator scenario run` end to end: the shipped scenarios against the example agent, the JSON and
JUnit reports, the in-process emulator, useful failure messages against a misbehaving agent, and malformed
scenarios refused before anything runs."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import example_agent

from emulator.clock import parse_iso
from emulator.scenarios import cli as scenario_cli
from emulator.testing import InProcessEmulator

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
VOICE = [p for p in SHIPPED if not p.name.startswith("07_")]

# (file, scenario name, number of expectations) of every shipped scenario, in run order.
EXPECTED = [
    ("01_outbound_appointment.yaml", "Outbound appointment booking", 12),
    ("02_inbound_support_interim.yaml", 'Inbound support with an interim "let me check"', 9),
    ("03_ivr_navigation.yaml", "IVR navigation by digits", 7),
    ("04_transfer_to_human.yaml", "Transfer to a human", 6),
    ("05_interrupt_and_hangup.yaml", "Caller interrupts, then hangs up mid-turn", 6),
    ("06_hosted_call.yaml", "Hosted-mode call", 6),
    ("07_sms_conversation.yaml", "SMS conversation", 6),
    # scenarios/advanced: personas, per-turn faults and noise, metric thresholds
    ("01_persona_reschedules.yaml", "A caller who wants to reschedule", 6),
    ("02_persona_asks_for_a_person.yaml", "A caller the agent cannot help asks for a person", 4),
    ("03_faults_and_noise.yaml", "Replays, a bad line and a timeout", 12),
]
SCENARIO_COUNT, EXPECTATION_COUNT = len(EXPECTED), sum(n for _f, _s, n in EXPECTED)


def command(*args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_EMULATOR_")}
    return [sys.executable, "-m", "emulator", "scenario", "run", *args], env


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    cmd, env = command(*args)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def emulator(server: InProcessEmulator) -> InProcessEmulator:
    """The session's emulator (real HTTP: the CLI runs in child processes)."""
    return server


@pytest.fixture(scope="module")
def agent_app(emulator: InProcessEmulator) -> Iterator[str]:
    """The example webhook app in a child process; its base URL (/agent behaves, /broken does not)."""
    with example_agent(AGENTPHONE_BASE_URL=emulator.base_url, AGENTPHONE_API_KEY="sk_test_example_sms") as base:
        yield base


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    junit: ET.Element


@pytest.fixture(scope="module")
def runs(emulator: InProcessEmulator, agent_app: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Three CLI runs, side by side (they use separate accounts): the shipped suite against /agent, the voice
    scenarios with an in-process emulator, and the voice scenarios plus a few more against /broken."""
    extra = tmp_path_factory.mktemp("extra") / "90_broken_extra.yaml"
    extra.write_text(BROKEN_EXTRA)
    voice = [str(p) for p in VOICE]
    specs = {
        "good": ["scenarios", "--base-url", emulator.base_url, "--target", f"{agent_app}/agent"],
        "in-process": [*voice, "--target", f"{agent_app}/agent"],
        # 07_sms is left out here: against /broken each text would wait replyWaitSeconds for a reply
        "broken": [*voice, str(extra), "--base-url", emulator.base_url, "--target", f"{agent_app}/broken"],
    }
    started = {}
    for name, args in specs.items():
        out = tmp_path_factory.mktemp(name)
        report, junit = out / "report.json", out / "junit.xml"
        cmd, env = command(*args, "--report-json", str(report), "--report-junit", str(junit))
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started[name] = (proc, cmd, report, junit)
    done = {}
    for name, (proc, cmd, report, junit) in started.items():
        stdout, stderr = proc.communicate(timeout=300)
        result = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
        assert report.exists() and junit.exists(), stdout + stderr
        done[name] = Run(result, json.loads(report.read_text()), ET.parse(junit).getroot())
    return done


@pytest.fixture(scope="module")
def good_run(runs: dict[str, Run]) -> Run:
    return runs["good"]


@pytest.fixture(scope="module")
def broken_run(runs: dict[str, Run]) -> Run:
    return runs["broken"]


def test_shipped_suite_passes(good_run: Run) -> None:
    out = good_run.result.stdout
    assert good_run.result.returncode == 0, out + good_run.result.stderr
    for index, (_file, name, count) in enumerate(EXPECTED, 1):
        assert f"[{index}/{SCENARIO_COUNT}] PASS  {name}  ({count}/{count} expectations" in out
    assert (f"{SCENARIO_COUNT}/{SCENARIO_COUNT} scenarios passed, {EXPECTATION_COUNT}/{EXPECTATION_COUNT} "
            "expectations held.") in out
    assert "FAILED" not in out
    assert "started an emulator" not in out  # --base-url: the running emulator was used


def test_json_report(good_run: Run) -> None:
    report = good_run.report
    summary = report["summary"]
    assert {k: summary[k] for k in ("scenarios", "passed", "failed", "expectations", "expectationsFailed")} == {
        "scenarios": SCENARIO_COUNT, "passed": SCENARIO_COUNT, "failed": 0, "expectations": EXPECTATION_COUNT,
        "expectationsFailed": 0}
    assert summary["seconds"] > 0
    got = [(Path(s["source"]).name, s["name"], len(s["expectations"])) for s in report["scenarios"]]
    assert got == EXPECTED
    for scenario in report["scenarios"]:
        assert scenario["passed"] is True
        assert scenario["transcript"], scenario["name"]
        for expectation in scenario["expectations"]:
            assert expectation["passed"] is True and expectation["message"] == ""
            name = expectation["name"]
            turn = re.match(r"(?:turn|message) (\S+?):", name)
            # a turn's expectation names its turn; a whole-call one names none
            assert expectation["turn"] == (turn.group(1) if turn else None), name
            if turn is None:
                assert name.startswith("call: "), name
    by_name = {s["name"]: s for s in report["scenarios"]}
    for name, end_reason in [("Outbound appointment booking", "agent-hangup"), ("Transfer to a human", "transferred"),
                             ("Caller interrupts, then hangs up mid-turn", "caller-hangup"),
                             ("Hosted-mode call", "agent-hangup")]:
        call = by_name[name]
        assert call["callId"].startswith("call_") and call["status"] == "completed"
        assert call["endReason"] == end_reason and call["durationSeconds"] > 0
    ivr = by_name["IVR navigation by digits"]["transcript"]
    assert [row.get("digits") for row in ivr if row.get("turn") == "turns[0]"] == ["2"]
    sms = by_name["SMS conversation"]
    assert sms["callId"] is None and sms["status"] is None
    assert [row["turn"] for row in sms["transcript"]] == ["messages[0]", "messages[1]", "messages[2]"]
    assert "9am to 5pm" in sms["transcript"][0]["response"]
    assert "cancelled" in sms["transcript"][2]["response"]
    first, second, third = (parse_iso(row["at"]) for row in sms["transcript"])
    assert second - first < timedelta(hours=1) <= timedelta(hours=2) <= third - second  # `after: 2h`


def test_junit_report(good_run: Run) -> None:
    root = good_run.junit
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == (str(EXPECTATION_COUNT), "0")
    suites = root.findall("testsuite")
    assert [(Path(s.get("file", "")).name, s.get("name"), int(s.get("tests", -1))) for s in suites] == EXPECTED
    for suite, scenario in zip(suites, good_run.report["scenarios"], strict=True):
        assert suite.get("failures") == "0"
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == [e["name"] for e in scenario["expectations"]]
        assert {c.get("classname") for c in cases} == {scenario["name"]}
    assert root.findall(".//failure") == []


def test_in_process_emulator_runs_the_voice_scenarios(runs: dict[str, Run]) -> None:
    result = runs["in-process"].result
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"started an emulator at http://127\.0\.0\.1:\d+", result.stdout)
    assert "6/6 scenarios passed, 46/46 expectations held." in result.stdout
    summary = runs["in-process"].report["summary"]
    assert (summary["scenarios"], summary["passed"], summary["expectationsFailed"]) == (6, 6, 0)


# --- the misbehaving agent: a failing test case for every kind of expectation ---------------------------------

BROKEN_EXTRA = """\
name: Broken agent, more expectations
description: Expectations the shipped scenarios leave holding against /broken.
direction: inbound
from: "+14155550181"
turns:
  - say: "Hello there, who is this?"
    expect:
      notContains: "didn't catch"
      firstChunkMsUnder: 100
  - say: "Where is my order?"
    expect:
      notSilent: true
expect:
  status: failed          # deliberately not what happens: the message must say what the status was
  durationSeconds: {max: 2}
"""


@dataclass(frozen=True)
class Kind:
    scenario: str
    check: str  # the test case name after "turn <path>: " or "call: "
    turn: str | None  # the turn path, None for whole-call expectations
    happened: str  # a regular expression for what the message says really happened


EXTRA = "Broken agent, more expectations"
KINDS = {
    "contains": Kind("Outbound appointment booking", "the reply to contain 'Tuesday'", "turns[0]",
                     r"but the agent said \"Sorry, I didn't catch that\.\""),
    "notContains": Kind(EXTRA, "the reply not to contain \"didn't catch\"", "turns[0]",
                        r"but the agent said \"Sorry, I didn't catch that\.\""),
    "matches": Kind("Outbound appointment booking", r"the reply to match /\b2 ?pm\b/", "turns[0]",
                    r"but the agent said \"Sorry, I didn't catch that\.\""),
    "notSilent": Kind(EXTRA, "a reply (not silence)", "turns[1]",
                      r"but the agent was silent \(The webhook answered HTTP 500"),
    "hangup": Kind("Outbound appointment booking", "the agent to hang up", "turns[1]", r"but it did not\."),
    "transfer": Kind("Transfer to a human", "a transfer", "turns[0]", r"but the action was None\."),
    "digits": Kind("IVR navigation by digits", "the agent to press '2'", "turns[0]", r"but it pressed None\."),
    "interrupted": Kind("Caller interrupts, then hangs up mid-turn", "the reply to be cut by the caller",
                        "turns[0]", r"but it was not\."),
    "firstChunkMsUnder": Kind(EXTRA, "the first chunk in under 100 ms", "turns[0]", r"but it took \d+(\.\d+)? ms\."),
    "status": Kind(EXTRA, "status 'failed'", None, r"but it was 'completed'\."),
    "endReason": Kind("Outbound appointment booking", "endReason 'agent-hangup'", None,
                      r"but it was 'caller-finished'\."),
    "durationSeconds": Kind(EXTRA, "durationSeconds at most 2", None, r"but it was \d+\."),
    "transcriptContains": Kind("Outbound appointment booking", "the transcript to contain 'booked for Tuesday'",
                               None, r"but it does not\."),
    "deliveries": Kind("Transfer to a human", "1 agent.message deliveries", None, r"but there were 2\."),
    "deliveriesOk": Kind("Outbound appointment booking", "every delivery signed and answered 2xx", None,
                         r"but \d+ did not: .*HTTP 500"),
}


def test_broken_agent_fails_the_run(broken_run: Run) -> None:
    result = broken_run.result
    assert result.returncode == 1, result.stdout + result.stderr
    verdicts = {s["name"]: s["passed"] for s in broken_run.report["scenarios"]}
    # the hosted call never asks the webhook, so it is the only one that still passes
    assert verdicts == {name: name == "Hosted-mode call" for _f, name, _n in EXPECTED[:6]} | {EXTRA: False}
    summary = broken_run.report["summary"]
    assert (summary["scenarios"], summary["passed"], summary["failed"]) == (7, 1, 6)
    failing = sum(not e["passed"] for s in broken_run.report["scenarios"] for e in s["expectations"])
    assert summary["expectationsFailed"] == failing > 0
    assert broken_run.junit.get("failures") == str(failing)
    assert len(broken_run.junit.findall(".//failure")) == failing
    assert f"FAILED Outbound appointment booking ({VOICE[0]})" in result.stdout
    assert "1/7 scenarios passed" in result.stdout


def failure_of(run: Run, scenario: str, case_name: str) -> tuple[ET.Element, str]:
    """The <failure> of one test case (one expectation) and its full message."""
    suite = next((s for s in run.junit.findall("testsuite") if s.get("name") == scenario), None)
    assert suite is not None, f"no testsuite {scenario!r}"
    case = next((c for c in suite.findall("testcase") if c.get("name") == case_name), None)
    assert case is not None, f"no testcase {case_name!r} in {[c.get('name') for c in suite]}"
    failure = case.find("failure")
    assert failure is not None, f"{case_name!r} did not fail"
    return failure, failure.text or ""


@pytest.mark.parametrize("name", list(KINDS))
def test_each_expectation_kind_fails_usefully(broken_run: Run, name: str) -> None:
    kind = KINDS[name]
    prefix = f"turn {kind.turn}: " if kind.turn else "call: "
    failure, message = failure_of(broken_run, kind.scenario, prefix + kind.check)
    head, *lines = message.splitlines()
    assert failure.get("message") == head
    if kind.turn is not None:
        said = re.match(rf"turn {re.escape(kind.turn)} \(caller said ('.*'|\".*\")\): expected ", head)
        assert said, head  # which turn, and what the caller said there
        caller = ast.literal_eval(said.group(1))
        marked = [line for line in lines if line.endswith("<-- this turn")]
        assert len(marked) == 1 and f"caller: {caller!r}" in marked[0], message
    else:
        assert head.startswith("call: expected "), head
    assert f"expected {kind.check}, " in head  # what was expected
    assert re.search(kind.happened, head), head  # what happened
    assert lines and all(re.match(r"  \[\w+\] caller: .* \| agent: ", line) for line in lines), message
    expectation = next(e for s in broken_run.report["scenarios"] if s["name"] == kind.scenario
                       for e in s["expectations"] if e["name"].endswith(": " + kind.check))
    assert (expectation["passed"], expectation["turn"], expectation["message"]) == (False, kind.turn, message)


def test_a_turn_never_reached_says_how_the_call_ended(broken_run: Run) -> None:
    _failure, message = failure_of(broken_run, "IVR navigation by digits", "turn turns[1].on_digits.2[0] was reached")
    head, *lines = message.splitlines()
    assert head == "turn turns[1].on_digits.2[0] never happened: the call ended first (endReason caller-finished)."
    assert any("Sorry, that is not a valid option." in line for line in lines)  # the default branch was played


# --- malformed scenarios: exit code 2 before anything runs -----------------------------------------------------

GOOD = """\
name: A good scenario that must not run
key: {key}
agent: {{name: Untouched}}
direction: outbound
turns:
  - say: "Hello?"
"""

MALFORMED = {
    "bad-turn-kind": ("turns:\n  - say: hi\n  - dance: true\n",
                      "Field 'turns[1]' must have exactly one of say, silence, press, hangup, on_digits"),
    "empty-say": ("turns:\n  - say: hi\n  - say: ''\n", "Field 'turns[1].say' must be a non-empty string"),
    "unknown-expect-key": ("turns:\n  - say: hi\n    expect: {contanis: hello}\n",
                           "Field 'turns[0].expect.contanis' is invalid"),
    "nested-expect-key": ("turns:\n  - say: menu\n  - on_digits:\n      '2':\n        - say: hi\n"
                          "          expect: {hangups: true}\n",
                          "Field 'turns[1].on_digits.2[0].expect.hangups' is invalid"),
    "unknown-call-expect-key": ("turns:\n  - say: hi\nexpect: {statuss: completed}\n",
                                "Field 'expect.statuss' is invalid"),
    "invalid-regex": ("turns:\n  - say: hi\n    expect: {matches: '(unclosed'}\n",
                      "Field 'turns[0].expect.matches' is invalid: Value error, is not a valid regular expression"),
    "bad-voice-mode": ("agent: {voiceMode: x}\nturns:\n  - say: hi\n",
                       "Field 'agent.voiceMode' must be one of 'webhook' or 'hosted' (got 'x')"),
    "missing-name": (None, "Field 'name' is required"),
    "inbound-without-from": ("direction: inbound\nturns:\n  - say: hi\n",
                             "Field 'from' is required for an inbound call"),
    "yaml-syntax": ("turns:\n  - say: \"hello\n    expect: [\n", "cannot read the scenario: while scanning a quoted"),
}


def write_pair(tmp_path: Path, case: str) -> tuple[str, Path, Path]:
    """A good scenario (with a key of its own) listed before a malformed one."""
    body = MALFORMED[case][0]
    key = f"sk_test_untouched_{uuid.uuid4().hex[:12]}"
    good = tmp_path / "01_good.yaml"
    good.write_text(GOOD.format(key=key))
    bad = tmp_path / "02_bad.yaml"
    bad.write_text("turns:\n  - say: hi\n" if body is None else f"name: malformed {case}\n{body}")
    return key, good, bad


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_scenario_fails_before_anything_runs(case: str, emulator: InProcessEmulator, tmp_path: Path) -> None:
    key, good, bad = write_pair(tmp_path, case)
    out = io.StringIO()
    code = scenario_cli.run([str(good), str(bad)], base_url=emulator.base_url, target="http://127.0.0.1:9/agent",
                            report_json=str(tmp_path / "r.json"), out=out)
    text = out.getvalue()
    assert code == 2, text
    assert text.startswith(f"error: {bad}: "), text  # the file ...
    assert MALFORMED[case][1] in text  # ... the field path and what was expected
    assert "[1/" not in text  # the good scenario listed first did not run either ...
    assert httpx.get(f"{emulator.base_url}/_emulator/accounts/{key}").status_code == 404  # ... nor touch its key
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("case", ["empty-say", "yaml-syntax"])
def test_malformed_scenario_is_exit_code_2(case: str, emulator: InProcessEmulator, tmp_path: Path) -> None:
    key, good, bad = write_pair(tmp_path, case)
    result = cli(str(good), str(bad), "--base-url", emulator.base_url, "--target", "http://127.0.0.1:9/agent")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.startswith(f"error: {bad}: ") and MALFORMED[case][1] in result.stdout
    assert httpx.get(f"{emulator.base_url}/_emulator/accounts/{key}").status_code == 404


def test_no_scenarios_is_exit_code_2(tmp_path: Path) -> None:
    out = io.StringIO()
    assert scenario_cli.run([str(tmp_path)], out=out) == 2
    assert f"no scenario files (.yaml, .yml, .json) under {tmp_path}" in out.getvalue()
    out = io.StringIO()
    assert scenario_cli.run([str(tmp_path / "missing.yaml")], out=out) == 2
    assert f"{tmp_path / 'missing.yaml'}: no such file or directory." in out.getvalue()
