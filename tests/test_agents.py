"""/v1/agents: create with vendor defaults, hosted-mode rules, list, get, PATCH, delete, numbers, voices."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from helpers import ISO_MS, emulator_now, fresh_number, iso, seed_account, tag, upgrade

from emulator.testing import InProcessEmulator, new_key

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server

VENDOR_DEFAULTS: dict[str, Any] = {
    "description": None,
    "voiceMode": "webhook",
    "systemPrompt": None,
    "beginMessage": None,
    "voice": "11labs-Brian",
    "modelTier": "balanced",
    "enableMessaging": True,
    "transferNumber": None,
    "customTools": None,
    "voicemailMessage": None,
    "callScreeningIdentity": None,
    "callScreeningPurpose": None,
    "sttMode": "fast",
    "ambientSound": "none",
    "denoisingMode": "noise-cancellation",
    "maxSilenceMs": 600000,
    "voiceSpeed": 1.0,
    "interruptionSensitivity": 0.8,
    "enableBackchannel": True,
    "language": "en-US",
}

# A value different from the default for every settable field (hosted needs its prompt).
CUSTOM: dict[str, Any] = {
    "description": "Handles support",
    "voiceMode": "hosted",
    "systemPrompt": "You are helpful.",
    "beginMessage": "Hi there!",
    "voice": "nova",
    "modelTier": "max",
    "enableMessaging": False,
    "transferNumber": "+14155550123",
    "voicemailMessage": "Leave a message",
    "callScreeningIdentity": "Acme",
    "callScreeningPurpose": "Support follow-up",
    "sttMode": "accurate",
    "ambientSound": "office",
    "denoisingMode": "noise-and-background-speech-cancellation",
    "maxSilenceMs": 30000,
    "voiceSpeed": 1.5,
    "interruptionSensitivity": 0.3,
    "enableBackchannel": False,
    "language": "de-DE",
}


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    resp = api.post("/v1/agents", json={"name": "Agent", **fields})
    assert resp.status_code == 200, resp.text
    return resp.json()


def buy(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    resp = api.post("/v1/numbers", json=fields)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_create_echoes_every_vendor_field_with_documented_defaults(api: httpx.Client) -> None:
    resp = api.post("/v1/agents", json={"name": "Support Bot"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["id"].startswith("agent_") and len(body["id"]) > len("agent_")
    assert body["name"] == "Support Bot"
    for name, value in VENDOR_DEFAULTS.items():
        assert body[name] == value, name
    assert isinstance(body["voiceSpeed"], float)
    assert body["numbers"] == [] and body["phoneNumbers"] == []
    assert ISO_MS.match(body["createdAt"]), body["createdAt"]
    assert ISO_MS.match(body["updatedAt"])


def test_create_keeps_every_given_field(api: httpx.Client) -> None:
    body = create(api, name="Custom", **CUSTOM)
    for name, value in CUSTOM.items():
        assert body[name] == value, name
    assert api.get(f"/v1/agents/{body['id']}").json() == body


def test_create_without_name_is_400(api: httpx.Client) -> None:
    resp = api.post("/v1/agents", json={"description": "no name"})
    assert resp.status_code == 400
    assert "name" in resp.json()["detail"]


@pytest.mark.parametrize("prompt", [None, "", "   "])
def test_hosted_agent_needs_a_system_prompt_on_create(api: httpx.Client, prompt: str | None) -> None:
    payload: dict[str, Any] = {"name": "Hosted", "voiceMode": "hosted"}
    if prompt is not None:
        payload["systemPrompt"] = prompt
    resp = api.post("/v1/agents", json=payload)
    assert resp.status_code == 400
    assert "systemPrompt" in resp.json()["detail"]
    assert api.get("/v1/agents").json()["total"] == 0


def test_patch_to_hosted_needs_a_system_prompt(api: httpx.Client) -> None:
    agent = create(api)
    resp = api.patch(f"/v1/agents/{agent['id']}", json={"voiceMode": "hosted"})
    assert resp.status_code == 400  # the agent has no prompt to keep
    assert "systemPrompt" in resp.json()["detail"]
    assert api.get(f"/v1/agents/{agent['id']}").json()["voiceMode"] == "webhook"

    ok = api.patch(f"/v1/agents/{agent['id']}", json={"voiceMode": "hosted", "systemPrompt": "Be nice."})
    assert ok.status_code == 200
    assert ok.json()["voiceMode"] == "hosted" and ok.json()["systemPrompt"] == "Be nice."


def test_clearing_the_prompt_of_a_hosted_agent_is_refused(api: httpx.Client) -> None:
    agent = create(api, voiceMode="hosted", systemPrompt="Be nice.")
    resp = api.patch(f"/v1/agents/{agent['id']}", json={"systemPrompt": None})
    assert resp.status_code == 400  # the field keeps its rule; the agent's mode makes it a refusal
    assert "systemPrompt" in resp.json()["detail"]
    assert api.get(f"/v1/agents/{agent['id']}").json()["systemPrompt"] == "Be nice."
    # Switching back to webhook mode and clearing in one PATCH is allowed.
    both = api.patch(f"/v1/agents/{agent['id']}", json={"voiceMode": "webhook", "systemPrompt": None})
    assert both.status_code == 200
    assert both.json()["systemPrompt"] is None


def test_list_pages_newest_first_with_total_and_has_more(api: httpx.Client) -> None:
    ids = [create(api, name=f"A{i}")["id"] for i in range(5)]
    newest_first = list(reversed(ids))

    everything = api.get("/v1/agents").json()
    assert [a["id"] for a in everything["data"]] == newest_first
    assert everything["total"] == 5 and everything["hasMore"] is False

    first = api.get("/v1/agents", params={"limit": 2}).json()
    assert [a["id"] for a in first["data"]] == newest_first[:2]
    assert first["total"] == 5 and first["hasMore"] is True

    middle = api.get("/v1/agents", params={"limit": 2, "offset": 2}).json()
    assert [a["id"] for a in middle["data"]] == newest_first[2:4]
    assert middle["hasMore"] is True

    last = api.get("/v1/agents", params={"limit": 2, "offset": 4}).json()
    assert [a["id"] for a in last["data"]] == newest_first[4:]
    assert last["total"] == 5 and last["hasMore"] is False

    past = api.get("/v1/agents", params={"offset": 10}).json()
    assert past == {"data": [], "total": 5, "hasMore": False}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}])
def test_list_rejects_bad_paging(api: httpx.Client, params: dict[str, Any]) -> None:
    resp = api.get("/v1/agents", params=params)
    assert resp.status_code == 400
    assert resp.json()["detail"]


def test_list_shows_only_the_callers_agents(api: httpx.Client, server: InProcessEmulator) -> None:
    create(api, name="mine")
    with server.client(new_key()) as other:
        other.post("/v1/agents", json={"name": "theirs"})
        theirs = other.get("/v1/agents").json()["data"][0]["id"]
    names = [a["name"] for a in api.get("/v1/agents").json()["data"]]
    assert names == ["mine"]
    assert api.get(f"/v1/agents/{theirs}").status_code == 404


def test_get_returns_the_agent_and_unknown_is_404(api: httpx.Client) -> None:
    agent = create(api, name="Getter")
    resp = api.get(f"/v1/agents/{agent['id']}")
    assert resp.status_code == 200
    assert resp.json() == agent
    missing = api.get("/v1/agents/agent_doesnotexist")
    assert missing.status_code == 404
    assert "agent_doesnotexist" in missing.json()["detail"]


@pytest.mark.parametrize("field", sorted(CUSTOM))
def test_patch_changes_only_the_given_field(api: httpx.Client, field: str) -> None:
    before = create(api, name="Patchme", voiceMode="hosted", systemPrompt="Original prompt.")
    change = {field: CUSTOM[field]}
    if field == "voiceMode":
        change = {"voiceMode": "webhook"}
    resp = api.patch(f"/v1/agents/{before['id']}", json=change)
    assert resp.status_code == 200, resp.text
    after = resp.json()
    for name in (*VENDOR_DEFAULTS, "name", "id", "createdAt", "numbers", "phoneNumbers"):
        expected = change[name] if name in change else before[name]
        assert after[name] == expected, name
    assert after["updatedAt"] >= before["updatedAt"]
    assert api.get(f"/v1/agents/{before['id']}").json() == after


def test_patch_with_empty_body_changes_nothing(api: httpx.Client) -> None:
    agent = create(api, name="Same")
    resp = api.patch(f"/v1/agents/{agent['id']}", json={})
    assert resp.status_code == 200
    after = resp.json()
    assert {k: v for k, v in after.items() if k != "updatedAt"} == {k: v for k, v in agent.items() if k != "updatedAt"}


def test_patch_name_null_is_400_and_keeps_the_name(api: httpx.Client) -> None:
    agent = create(api, name="Keep me")
    resp = api.patch(f"/v1/agents/{agent['id']}", json={"name": None})
    assert resp.status_code == 400
    assert "name" in resp.json()["detail"]
    assert api.get(f"/v1/agents/{agent['id']}").json()["name"] == "Keep me"


def test_patch_nullable_field_to_null_clears_it(api: httpx.Client) -> None:
    agent = create(api, description="desc", beginMessage="Hello")
    resp = api.patch(f"/v1/agents/{agent['id']}", json={"description": None})
    assert resp.status_code == 200
    assert resp.json()["description"] is None
    assert resp.json()["beginMessage"] == "Hello"


@pytest.mark.parametrize("change", [
    {"voiceSpeed": 3.0}, {"interruptionSensitivity": 1.5}, {"maxSilenceMs": 5}, {"sttMode": "slow"},
    {"language": "xx-XX"}, {"transferNumber": "12345"}, {"voiceMode": "robot"},
])
def test_patch_invalid_values_are_400(api: httpx.Client, change: dict[str, Any]) -> None:
    agent = create(api)
    resp = api.patch(f"/v1/agents/{agent['id']}", json=change)
    assert resp.status_code == 400
    assert resp.json()["detail"]
    assert api.get(f"/v1/agents/{agent['id']}").json() == agent


def test_patch_unknown_agent_is_404(api: httpx.Client) -> None:
    assert api.patch("/v1/agents/agent_nope", json={"name": "x"}).status_code == 404


def test_delete_returns_all_keys_and_keeps_numbers_unassigned(api: httpx.Client, control: httpx.Client,
                                                              key: str) -> None:
    upgrade(control, key)
    agent = create(api, name="Doomed")
    first = buy(api, agentId=agent["id"])
    second = buy(api, agentId=agent["id"])

    resp = api.delete(f"/v1/agents/{agent['id']}")
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] is True
    assert body["id"] == agent["id"]
    assert body["name"] == "Doomed"
    assert body["message"]
    assert sorted(body["unassignedNumbers"]) == sorted([first["id"], second["id"]])

    for number in (first, second):
        now = api.get(f"/v1/numbers/{number['id']}").json()
        assert now["status"] == "active"
        assert now["agentId"] is None
    assert api.get(f"/v1/agents/{agent['id']}").status_code == 404
    assert api.delete(f"/v1/agents/{agent['id']}").status_code == 404
    assert api.get("/v1/agents").json()["total"] == 0


def test_delete_keeps_calls_and_conversations_with_agent_cleared(api: httpx.Client, control: httpx.Client,
                                                                  key: str) -> None:
    t = tag()
    agent, number, call, conv = f"agent_{t}", f"pn_{t}", f"call_{t}", f"conv_{t}"
    seed_account(control, key, plan="free", agents=[{"id": agent, "name": "Gone"}],
                 numbers=[{"id": number, "phoneNumber": fresh_number(), "agentId": agent}],
                 calls=[{"id": call, "numberId": number, "direction": "inbound", "from": "+14155550100",
                         "durationSeconds": 42}],
                 conversations=[{"id": conv, "numberId": number, "participant": "+14155550111"}])
    assert api.get(f"/v1/calls/{call}").json()["agentId"] == agent
    assert api.get(f"/v1/conversations/{conv}").json()["agentId"] == agent
    assert api.delete(f"/v1/agents/{agent}").status_code == 200
    kept_call = api.get(f"/v1/calls/{call}")
    assert kept_call.status_code == 200
    assert kept_call.json()["agentId"] is None
    kept_conv = api.get(f"/v1/conversations/{conv}")
    assert kept_conv.status_code == 200
    assert kept_conv.json()["agentId"] is None


def test_delete_agent_without_numbers(api: httpx.Client) -> None:
    agent = create(api, name="Alone")
    body = api.delete(f"/v1/agents/{agent['id']}").json()
    assert body["unassignedNumbers"] == []
    assert body["success"] is True


def test_attach_number_returns_agent_and_number(api: httpx.Client) -> None:
    agent = create(api)
    number = buy(api)
    resp = api.post(f"/v1/agents/{agent['id']}/numbers", json={"numberId": number["id"]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["agentId"] == agent["id"]
    assert body["number"] == {"id": number["id"], "phoneNumber": number["phoneNumber"], "status": "active",
                              "type": "sms"}
    shown = api.get(f"/v1/agents/{agent['id']}").json()
    assert shown["numbers"] == [body["number"]]
    assert shown["phoneNumbers"] == [body["number"]]
    assert api.get(f"/v1/numbers/{number['id']}").json()["agentId"] == agent["id"]


def test_attaching_moves_a_number_from_another_agent(api: httpx.Client) -> None:
    first, second = create(api, name="First"), create(api, name="Second")
    number = buy(api, agentId=first["id"])
    assert [n["id"] for n in api.get(f"/v1/agents/{first['id']}").json()["numbers"]] == [number["id"]]

    resp = api.post(f"/v1/agents/{second['id']}/numbers", json={"numberId": number["id"]})
    assert resp.status_code == 200
    assert api.get(f"/v1/agents/{first['id']}").json()["numbers"] == []
    assert [n["id"] for n in api.get(f"/v1/agents/{second['id']}").json()["numbers"]] == [number["id"]]
    assert api.get(f"/v1/numbers/{number['id']}").json()["agentId"] == second["id"]


def test_numbers_are_listed_in_attach_order(api: httpx.Client, control: httpx.Client, key: str) -> None:
    upgrade(control, key)
    agent = create(api)
    numbers = [buy(api) for _ in range(3)]
    for number in (numbers[2], numbers[0], numbers[1]):
        assert api.post(f"/v1/agents/{agent['id']}/numbers", json={"numberId": number["id"]}).status_code == 200
    shown = [n["id"] for n in api.get(f"/v1/agents/{agent['id']}").json()["numbers"]]
    assert shown == [numbers[2]["id"], numbers[0]["id"], numbers[1]["id"]]


def test_attaching_a_released_number_is_400(api: httpx.Client) -> None:
    agent = create(api)
    number = buy(api)
    assert api.delete(f"/v1/numbers/{number['id']}").status_code == 200
    resp = api.post(f"/v1/agents/{agent['id']}/numbers", json={"numberId": number["id"]})
    assert resp.status_code == 400
    assert "released" in resp.json()["detail"]
    assert api.get(f"/v1/agents/{agent['id']}").json()["numbers"] == []


def test_attach_unknown_number_or_agent_is_404(api: httpx.Client) -> None:
    agent = create(api)
    number = buy(api)
    assert api.post(f"/v1/agents/{agent['id']}/numbers", json={"numberId": "pn_nope"}).status_code == 404
    assert api.post("/v1/agents/agent_nope/numbers", json={"numberId": number["id"]}).status_code == 404
    assert api.post(f"/v1/agents/{agent['id']}/numbers", json={}).status_code == 400


def test_detach_clears_the_agent(api: httpx.Client) -> None:
    agent = create(api)
    number = buy(api, agentId=agent["id"])
    resp = api.delete(f"/v1/agents/{agent['id']}/numbers/{number['id']}")
    assert resp.status_code == 200
    assert resp.json()["success"] is True
    assert api.get(f"/v1/numbers/{number['id']}").json()["agentId"] is None
    assert api.get(f"/v1/numbers/{number['id']}").json()["status"] == "active"
    assert api.get(f"/v1/agents/{agent['id']}").json()["numbers"] == []


def test_detaching_a_number_not_attached_is_400(api: httpx.Client) -> None:
    first, second = create(api, name="First"), create(api, name="Second")
    number = buy(api, agentId=first["id"])
    resp = api.delete(f"/v1/agents/{second['id']}/numbers/{number['id']}")
    assert resp.status_code == 400
    assert resp.json()["detail"]
    assert api.get(f"/v1/numbers/{number['id']}").json()["agentId"] == first["id"]

    assert api.delete(f"/v1/agents/{first['id']}/numbers/{number['id']}").status_code == 200
    again = api.delete(f"/v1/agents/{first['id']}/numbers/{number['id']}")
    assert again.status_code == 400


def test_list_voices(api: httpx.Client) -> None:
    resp = api.get("/v1/agents/voices")
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert data, "the catalogue is not empty"
    for voice in data:
        assert set(voice) >= {"voiceId", "name", "provider", "gender"}
        assert all(isinstance(voice[k], str) and voice[k] for k in ("voiceId", "name", "provider", "gender"))
    ids = [v["voiceId"] for v in data]
    assert "11labs-Brian" in ids
    assert len(ids) == len(set(ids))


def test_agent_calls_and_conversations_start_empty(api: httpx.Client) -> None:
    agent = create(api)
    for path in ("calls", "conversations"):
        resp = api.get(f"/v1/agents/{agent['id']}/{path}")
        assert resp.status_code == 200
        assert resp.json() == {"data": [], "total": 0, "hasMore": False}
        assert api.get(f"/v1/agents/agent_nope/{path}").status_code == 404


def test_agent_calls_and_conversations_list_seeded_rows(api: httpx.Client, control: httpx.Client, key: str) -> None:
    t = tag()
    agent, other = {"id": f"agent_{t}_mine", "name": "Mine"}, {"id": f"agent_{t}_other", "name": "Other"}
    number, theirs = {"id": f"pn_{t}_mine"}, f"pn_{t}_other"
    now = emulator_now(control)
    old_call, new_call = f"call_{t}_old", f"call_{t}_new"
    call = {"numberId": number["id"], "direction": "inbound", "from": "+14155550100", "durationSeconds": 42}
    seed_account(control, key, agents=[agent, other], numbers=[
        {"id": number["id"], "phoneNumber": fresh_number(), "agentId": agent["id"]},
        {"id": theirs, "phoneNumber": fresh_number(), "agentId": other["id"]},
    ], calls=[
        {**call, "id": old_call, "startedAt": iso(now - timedelta(minutes=5))},
        {**call, "id": new_call, "startedAt": iso(now - timedelta(minutes=1))},
        {**call, "agentId": other["id"], "startedAt": iso(now)},
    ], conversations=[
        {"id": f"conv_{t}", "numberId": number["id"], "participant": "+14155550111",
         "messages": [{"direction": "inbound", "body": "hello"}]},
        {"numberId": theirs, "participant": "+14155550112"},
    ])
    conv = f"conv_{t}"

    calls = api.get(f"/v1/agents/{agent['id']}/calls").json()
    assert [c["id"] for c in calls["data"]] == [new_call, old_call]
    assert calls["total"] == 2 and calls["hasMore"] is False
    assert all(c["agentId"] == agent["id"] and c["phoneNumberId"] == number["id"] for c in calls["data"])
    paged = api.get(f"/v1/agents/{agent['id']}/calls", params={"limit": 1}).json()
    assert [c["id"] for c in paged["data"]] == [new_call]
    assert paged["hasMore"] is True and paged["total"] == 2

    convs = api.get(f"/v1/agents/{agent['id']}/conversations").json()
    assert convs["total"] == 1 and convs["hasMore"] is False
    [only] = convs["data"]
    assert only["id"] == conv
    assert only["agentId"] == agent["id"]
    assert only["participant"] == "+14155550111"
    assert only["lastMessagePreview"] == "hello" and only["messageCount"] == 1
