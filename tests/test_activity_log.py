"""The activity log, read from a real emulator process: one human line per happening at the default level
(calls placed, answered and ended; each voice turn; texts in and out; each delivery attempt; fixture loads,
resets, faults, the clock), or one JSON object per line; never a full key or a webhook secret; no access log
unless asked for."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from gate_agent import GateAgent
from helpers import ok

from emulator.activity import Activity, mask_key
from emulator.logs import JsonFormatter, TextFormatter
from emulator.testing import EmulatorProcess, ServerProcess, free_port, new_key

ADMIN = {"timeout": 15}


def log_lines(path: Path, until: str, timeout: float = 15.0) -> list[str]:
    """The log's lines once one of them contains `until`."""
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text(errors="replace").splitlines()
        if any(until in line for line in lines):
            return lines
        assert time.monotonic() < deadline, f"no log line with {until!r} within {timeout}s:\n" + "\n".join(lines)
        time.sleep(0.05)


def fixture(key: str, url: str, number: str) -> dict[str, Any]:
    return {"accounts": [{
        "key": key, "plan": "pro", "webhook": {"url": url},
        "agents": [{"id": f"agent_{key[-6:]}", "name": "Log Bot", "beginMessage": "Hello, this is Log Bot."}],
        "numbers": [{"id": f"pn_{key[-6:]}", "phoneNumber": number, "agentId": f"agent_{key[-6:]}"}],
    }]}


def busy_day(base: str, key: str, failing_key: str, agent_url: str) -> dict[str, Any]:
    """Everything the log should tell, through the real API; returns the IDs to look for."""
    with httpx.Client(base_url=base, **ADMIN) as admin, \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, **ADMIN) as api:
        ok(admin.post("/_emulator/fixtures", json=fixture(key, agent_url, "+14155550181")))
        ok(admin.post("/_emulator/fixtures", json=fixture(failing_key, "http://127.0.0.1:9/hook", "+14155550182")))
        texted = ok(admin.post("/_emulator/sms", json={"from": "+14155550100", "to": "+14155550181",
                                                       "body": "Is my order shipped?"}))
        sent = ok(api.post("/v1/messages", json={"agent_id": f"agent_{key[-6:]}", "to_number": "+14155550100",
                                                 "body": "Yes, it left today."}))
        call = ok(admin.post("/_emulator/calls/inbound", json={"from": "+14155550100", "to": "+14155550181", "turns": [
            {"say": "Where is my order?"}, {"press": "1"}, {"silence": 2}, {"hangup": True}]}))
        ok(admin.post("/_emulator/sms", json={"from": "+14155550100", "to": "+14155550182", "body": "Hello?"}))
        ok(admin.post("/_emulator/faults", json={"key": key, "status": 503, "path": "/v1/agents"}))
        assert api.get("/v1/agents").status_code == 503
        for _ in range(300):  # the call runs in the background
            if ok(api.get(f"/v1/calls/{call['id']}"))["status"] != "in-progress":
                break
            time.sleep(0.02)
        ok(admin.post("/_emulator/clock", json={"advance": 30}))
        ok(admin.post("/_emulator/reset", json={"key": failing_key}))
    return {"message": texted["message"]["id"], "sent": sent["id"], "call": call["id"]}


def test_the_default_log_tells_each_happening_in_one_line(tmp_path: Path) -> None:
    key, failing_key = new_key(), new_key()
    with GateAgent([{"text": "It shipped yesterday."}, {"text": "Goodbye!"}]) as agent, EmulatorProcess() as proc:
        ids = busy_day(proc.base_url, key, failing_key, agent.url)
        lines = log_lines(proc.log, "reset: account")
        log = "\n".join(lines)

    def line(pattern: str) -> str:
        found = [text for text in lines if re.search(pattern, text)]
        assert found, f"no line matches {pattern!r}:\n{log}"
        return found[0]

    call = ids["call"]
    line(r"^\d\d:\d\d:\d\d\.\d{3} fixtures\.loaded +fixtures loaded from request body: 1 account, 1 agent, 1 number")
    line(rf"sms\.in +SMS in {ids['message']} \+14155550100 → \+14155550181: \"Is my order shipped\?\" "
         r"\(1 delivery queued\)")  # the current vocabulary: agent.message only
    line(rf"sms\.out +SMS out {ids['sent']} \+14155550181 → \+14155550100: \"Yes, it left today\.\"")
    line(rf"delivery\.attempt +delivery dlv_\w+ agent\.message → {re.escape(agent.url)}: HTTP 200 in \d+ ms "
         r"\(attempt 1\)$")
    line(r"delivery\.attempt +delivery dlv_\w+ agent\.message → http://127\.0\.0\.1:9/hook: failed: Could not "
         r"connect to the webhook: .* \(attempt 1\); retry at \d{4}-")
    line(rf"call\.placed +call {call} dialled in: \+14155550100 → \+14155550181, agent \"Log Bot\"")
    line(rf"call\.answered +call {call} answered")
    line(rf"call\.turn +call {call} turn 1 greeting: agent \"Hello, this is Log Bot\.\"")
    line(rf"call\.turn +call {call} turn 2 speech: caller \"Where is my order\?\" → agent \"It shipped yesterday\.\" "
         r"\(HTTP 200 in \d+ ms; first chunk \d+ ms, final \d+ ms, 1 chunk\)")
    line(rf"call\.turn +call {call} turn 3 dtmf: caller pressed 1 → agent \"Goodbye!\"")
    line(rf"call\.turn +call {call} turn 4 silence: caller silent 2 s")
    line(rf"call\.turn +call {call} turn 5 hangup: caller hung up")
    line(rf"call\.ended +call {call} ended: completed \(caller-hangup\) after \d+ s, 5 turns")
    line(rf"fault\.fired +fault fired: API 503 for key {re.escape(mask_key(key) or '')} on /v1/agents \(0 left\)")
    line(r"clock\.moved +clock moved forward 30 s to \d{4}-")
    line(rf"reset +reset: account acct_\w+ \(key {re.escape(mask_key(failing_key) or '')}\)")
    assert key not in log and failing_key not in log  # keys only ever masked
    assert "whsec_" not in log  # and secrets never
    assert "HTTP/1.1" not in log and "Started server process" not in log  # no access lines or start-up chatter


def test_log_format_json_gives_one_object_per_line_with_the_figures(tmp_path: Path) -> None:
    key, failing_key = new_key(), new_key()
    with GateAgent([{"text": "Sure."}]) as agent, EmulatorProcess(args=["--log-format", "json"]) as proc:
        ids = busy_day(proc.base_url, key, failing_key, agent.url)
        lines = log_lines(proc.log, '"event": "reset"')
    records = [json.loads(text) for text in lines if text.startswith("{")]
    assert records and all(set(r) >= {"time", "level", "logger", "message"} for r in records)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_event.setdefault(record.get("event", ""), []).append(record)
    ended = by_event["call.ended"][0]
    assert (ended["callId"], ended["status"], ended["endReason"], ended["turns"]) == (
        ids["call"], "completed", "caller-hangup", 5)
    assert ended["level"] == "info" and ended["logger"] == "emulator.activity" and len(ended["accounts"]) == 1
    speech = next(r for r in by_event["call.turn"] if r["turnKind"] == "speech")
    assert speech["httpStatus"] == 200 and speech["chunks"] == 1 and speech["deliveryId"].startswith("dlv_")
    assert speech["latencyMs"] >= 0 and speech["firstChunkMs"] is not None
    failed = next(r for r in by_event["delivery.attempt"] if r["url"] == "http://127.0.0.1:9/hook")
    assert failed["httpStatus"] is None and failed["nextRetryAt"] and failed["attempt"] == 1
    assert by_event["fault.fired"][0]["key"] == mask_key(key)
    assert by_event["sms.in"][0]["messageId"] == ids["message"]
    text = "\n".join(lines)
    assert key not in text and failing_key not in text and "whsec_" not in text


def test_the_log_format_and_level_come_from_the_environment_too() -> None:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGENTPHONE_EMULATOR_")},
           "AGENTPHONE_EMULATOR_LOG_FORMAT": "json", "AGENTPHONE_EMULATOR_DB": ":memory:"}
    server = ServerProcess([sys.executable, "-m", "emulator", "serve", "--port", str(port)], port,
                           "/_emulator/health", env)
    with server:
        ok(httpx.post(f"{server.base_url}/_emulator/fixtures", json={"accounts": [{"key": new_key()}]}, timeout=10))
        record = json.loads(next(t for t in log_lines(server.log, "fixtures.loaded") if "fixtures.loaded" in t))
        assert record["event"] == "fixtures.loaded" and record["counts"]["accounts"] == 1
    quiet_port = free_port()
    quiet = ServerProcess([sys.executable, "-m", "emulator", "serve", "--port", str(quiet_port), "--db", ":memory:",
                           "--log-level", "warning", "--access-log"], quiet_port, "/_emulator/health", env)
    with quiet:
        ok(httpx.post(f"{quiet.base_url}/_emulator/fixtures", json={"accounts": [{"key": new_key()}]}, timeout=10))
        lines = log_lines(quiet.log, "POST /_emulator/fixtures")  # the access line asked for
        assert not any("fixtures.loaded" in line for line in lines)  # activity is info: below warning


def test_a_bad_log_format_in_the_environment_is_a_usage_error() -> None:
    import subprocess

    env = {**os.environ, "AGENTPHONE_EMULATOR_LOG_FORMAT": "xml"}
    done = subprocess.run([sys.executable, "-m", "emulator", "serve", "--port", "0"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2 and "--log-format: invalid choice 'xml'" in done.stderr


# --- the formatters on their own ------------------------------------------------------------------------


def test_a_happening_is_one_info_record_formatted_as_text_or_json(caplog: pytest.LogCaptureFixture) -> None:
    activity = Activity()
    with caplog.at_level(logging.INFO, logger="emulator.activity"):
        activity.fault_fired(__import__("emulator.faults", fromlist=["ApiFault"]).ApiFault(
            "sk_test_0123456789abcdef", 503, 0, "/v1/calls"), "acct_1", "/v1/calls")
    [record] = caplog.records
    assert record.levelno == logging.INFO and record.name == "emulator.activity"
    assert record.getMessage() == "fault fired: API 503 for key sk_test_…cdef on /v1/calls (0 left)"
    text = TextFormatter().format(record)
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} fault\.fired +fault fired: API 503 .*", text)
    parsed = json.loads(JsonFormatter().format(record))
    assert (parsed["event"], parsed["accounts"], parsed["fault"], parsed["key"]) == (
        "fault.fired", ["acct_1"], 503, "sk_test_…cdef")
    assert "0123456789abcdef" not in text + json.dumps(parsed)


def test_a_turn_nobody_took_is_told_in_full_to_a_later_subscriber(caplog: pytest.LogCaptureFixture) -> None:
    """Above INFO and with nobody streaming, a turn's line is not built when it happens; the backlog still tells it
    to whoever connects later, exactly as it would have been told then, in order with the other happenings."""
    from emulator.calls.callees import Callee
    from emulator.calls.setup import AgentView, CallSetup
    from emulator.domain.calls import transcript_row

    activity = Activity()
    setup = CallSetup("call_1", "acct_1", AgentView("agent_1", "Bot", "webhook", None, None, None, None, 600_000, 1.0),
                      None, Callee([], "script"), "outbound", "+14155550100", "+14155550142", "pn_1")
    row = transcript_row("acct_1", "call_1", "speech", "Where is my order?", "It left today.",
                         activity.clock.now(), details={"firstChunkMs": 1.0, "finalChunkMs": 2.0, "chunks": ["x"]})
    built: list[str] = []
    make = activity._turn
    activity._turn = lambda *args: built.append("turn") or make(*args)  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="emulator.activity"):
        activity.call_turn(setup, row, 2, None)
        activity.call_ended(setup, "completed", "caller-finished", 4, 2)
    assert built == [] and caplog.records == []
    turn, ended = activity.recent(frozenset({"acct_1"}))
    assert built == ["turn"]
    assert (turn.seq, turn.kind, ended.seq, ended.kind) == (1, "call.turn", 2, "call.ended")
    assert turn.text == 'call call_1 turn 2 speech: caller "Where is my order?" → agent "It left today."'
    assert (turn.data["turnId"], turn.data["finalChunkMs"], turn.accounts) == (row.id, 2.0, frozenset({"acct_1"}))
    assert activity.recent(frozenset({"acct_2"})) == [] and activity.recent(None, since=1) == [ended]
    with caplog.at_level(logging.INFO, logger="emulator.activity"):  # logged: built at once, as before
        activity.call_turn(setup, row, 3, None)
    assert built == ["turn", "turn"] and caplog.records[-1].getMessage().startswith("call call_1 turn 3 speech")


@pytest.mark.parametrize(("key", "shown"), [("sk_test_0123456789abcdef", "sk_test_…cdef"),
                                             ("sk_live_ABCDEFGH1234", "sk_live_…1234"), ("sk_test_demo", "sk_test_…"),
                                             ("whatever-else", "…else")])
def test_keys_are_masked(key: str, shown: str) -> None:
    assert mask_key(key) == shown
