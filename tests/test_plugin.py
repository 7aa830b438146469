"""The pytest plugin's fixtures, used the way a user's test suite uses them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from agentphone import AgentPhone, AgentPhoneError, NotFoundError, RateLimitError, verify_webhook

from emulator.testing import new_key
from emulator.testing.plugin import EmulatorHandle
from emulator.testing.receiver import Answer, Received, WebhookReceiver

pytest_plugins = ["pytester"]


def wait_until(receiver: WebhookReceiver, event: str, count: int = 1) -> list[Received]:
    """The requests carrying `event`, once `count` of them arrived."""
    return receiver.wait_for(count, event=event)


def test_client_creates_an_agent_in_an_isolated_account(agentphone_client: AgentPhone, agentphone_key: str,
                                                        agentphone_base_url: str) -> None:
    agent = agentphone_client.agents.create(name="Plugin Bot", begin_message="Hello from the plugin.")
    assert agent.id.startswith("agent_") and agent.name == "Plugin Bot"
    assert [a.id for a in agentphone_client.agents.list().data] == [agent.id]  # a fresh account per test
    with httpx.Client(base_url=agentphone_base_url, headers={"Authorization": f"Bearer {agentphone_key}"}) as api:
        stored = api.get(f"/v1/agents/{agent.id}").json()
    assert (stored["id"], stored["beginMessage"]) == (agent.id, "Hello from the plugin.")
    with AgentPhone(api_key=new_key(), base_url=agentphone_base_url) as stranger, pytest.raises(NotFoundError):
        stranger.agents.get(agent.id)


def test_webhook_receives_a_signed_sms_event(agentphone_emulator: EmulatorHandle, agentphone_client: AgentPhone,
                                            agentphone_webhook: WebhookReceiver) -> None:
    agent = agentphone_client.agents.create(name="Texting Bot")
    number = agentphone_client.numbers.buy(agent_id=agent.id)
    hook = agentphone_client.agents.set_webhook(agent.id, url=agentphone_webhook.url)
    sent = agentphone_emulator.send_sms("+14155550177", number.phone_number, "Are you open on Sunday?")

    received = wait_until(agentphone_webhook, "agent.message")[0]
    event = received.event
    assert (event["channel"], event["agentId"]) == ("sms", agent.id)
    data = event["data"]
    assert (data["message"], data["from"], data["to"]) == ("Are you open on Sunday?", "+14155550177",
                                                           number.phone_number)
    assert data["conversationId"] == sent["message"]["conversationId"]
    verify_webhook(received.body, received.headers["X-Webhook-Signature"], hook.secret,
                   received.headers["X-Webhook-Timestamp"])


def test_dial_in_and_wait_for_the_call(agentphone_emulator: EmulatorHandle, agentphone_client: AgentPhone,
                                      agentphone_key: str, agentphone_webhook: WebhookReceiver) -> None:
    agentphone_webhook.reply({"text": "Thanks for calling. Goodbye!", "hangup": True})
    agent = agentphone_client.agents.create(name="Receptionist")
    number = agentphone_client.numbers.buy(agent_id=agent.id)
    agentphone_client.agents.set_webhook(agent.id, url=agentphone_webhook.url)
    call = agentphone_emulator.dial_in("+14155550176", number.phone_number, [{"say": "Hi, quick question."},
                                                                             {"say": "Are you still there?"}])
    done = agentphone_emulator.wait_for_call(agentphone_key, call["id"])
    assert (done["status"], done["endReason"]) == ("completed", "agent-hangup")
    speech = [(t["transcript"], t["response"]) for t in done["transcripts"] if t["kind"] == "speech"]
    assert speech == [("Hi, quick question.", "Thanks for calling. Goodbye!")]  # the second turn never came


def test_add_fault_reaches_the_sdk(agentphone_emulator: EmulatorHandle, agentphone_client: AgentPhone,
                                   agentphone_key: str) -> None:
    agentphone_emulator.add_fault(key=agentphone_key, status=503)
    agentphone_emulator.add_fault(key=agentphone_key, status=429)
    with pytest.raises(AgentPhoneError) as unavailable:
        agentphone_client.agents.list()
    assert unavailable.value.status == 503
    with pytest.raises(RateLimitError):
        agentphone_client.agents.list()
    assert agentphone_client.agents.list().data == []


def test_load_fixtures_from_a_dict_and_from_a_yaml_file(agentphone_emulator: EmulatorHandle, agentphone_key: str,
                                                        tmp_path: Path) -> None:
    tag = agentphone_key[-12:]
    agentphone_emulator.load_fixtures({"accounts": [{"key": agentphone_key, "agents": [
        {"id": f"agent_dict_{tag}", "name": "From a dict"}]}]})
    with agentphone_emulator.api(agentphone_key) as api:
        assert api.get(f"/v1/agents/agent_dict_{tag}").json()["name"] == "From a dict"
    path = tmp_path / "fixture.yaml"
    path.write_text(f"accounts:\n  - key: {agentphone_key}\n"
                    f"    agents:\n      - {{id: agent_yaml_{tag}, name: YAML}}\n")
    loaded = agentphone_emulator.load_fixtures(path)
    assert loaded["loaded"]["agents"] == 1
    with agentphone_emulator.api(agentphone_key) as api:
        assert [a["id"] for a in api.get("/v1/agents").json()["data"]] == [f"agent_yaml_{tag}"]  # replaced


def answer_by_transcript(received: Received) -> Answer:
    """A small voice agent; agent.call_ended is answered slowly, like a webhook that does real work on it."""
    event = received.event
    if event.get("event") != "agent.message":
        return Answer(delay=0.5 if event.get("event") == "agent.call_ended" else 0)
    said = (event.get("data") or {}).get("transcript", "").lower()
    if "hours" in said:
        reply: dict[str, Any] = {"text": "We are open from 9am to 5pm."}
    elif "bye" in said:
        reply = {"text": "Goodbye!", "hangup": True}
    else:
        reply = {"text": "Sorry?"}
    return Answer(body=json.dumps(reply).encode(), content_type="application/json")


def test_scenario_dict_against_the_webhook(agentphone_scenario: Any, agentphone_webhook: WebhookReceiver) -> None:
    agentphone_webhook.answer_with(answer_by_transcript)
    scenario = {
        "name": "Opening hours by phone",
        "direction": "inbound",
        "from": "+14155550178",
        "turns": [
            {"say": "What are your hours?", "expect": {"contains": "9am", "notSilent": True}},
            {"say": "Great, bye.", "expect": {"hangup": True}},
        ],
        # deliveriesOk also covers agent.call_ended, which the webhook answers half a second after the call ends
        "expect": {"status": "completed", "endReason": "agent-hangup", "deliveries": 2, "deliveriesOk": True},
    }
    outcomes = agentphone_scenario(scenario, target=agentphone_webhook.url)
    assert len(outcomes) == 1
    outcome = outcomes[0]
    assert outcome.passed and len(outcome.checks) == 7, [c.message for c in outcome.failures]
    assert [t["transcript"] for t in outcome.transcript if t.get("kind") == "speech"] == [
        "What are your hours?", "Great, bye."]
    turns = [r.event["data"]["transcript"] for r in wait_until(agentphone_webhook, "agent.message", 2)]
    assert turns == ["What are your hours?", "Great, bye."]
    ended = [d for d in outcome.deliveries if d["eventType"] == "agent.call_ended"]
    assert [(d["status"], d["httpStatus"]) for d in ended] == [("success", 200)]


INNER_TESTS = """
from pathlib import Path


def test_wrong_answer(agentphone_scenario, agentphone_webhook):
    agentphone_webhook.reply({"text": "No idea, sorry."})
    agentphone_scenario({
        "name": "Inner scenario",
        "direction": "inbound",
        "from": "+14155550179",
        "turns": [{"say": "What are your hours?", "expect": {"contains": "9am"}}],
    }, target=agentphone_webhook.url)


def test_malformed(agentphone_scenario):
    agentphone_scenario({"name": "Inner malformed", "turns": [{"say": ""}]})


def test_uses_a_key(agentphone_key, agentphone_client):
    agentphone_client.agents.create(name="Short-lived")
    Path("used_key.txt").write_text(agentphone_key)
"""


def test_failing_scenario_fails_the_test_with_its_message(pytester: pytest.Pytester,
                                                          agentphone_emulator: EmulatorHandle) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest("--agentphone-url", agentphone_emulator.base_url, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*FAILED Inner scenario (<inline scenario>)",
        "turn turns[0] (caller said 'What are your hours?'): expected the reply to contain '9am', "
        "but the agent said 'No idea, sorry.'.",
        "*caller: 'What are your hours?' | agent: 'No idea, sorry.'   <-- this turn",
    ])
    result.stdout.fnmatch_lines(["<inline scenario>: Field 'turns[0].say' must be a non-empty string."])
    result.stdout.no_fnmatch_line("*testing/plugin.py*")  # the message alone, no traceback into the plugin
    key = (pytester.path / "used_key.txt").read_text()
    # agentphone_key's account existed during the test and was reset after it
    assert httpx.get(f"{agentphone_emulator.base_url}/_emulator/accounts/{key}").status_code == 404
