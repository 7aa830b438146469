"""What the inspector reads, through the real server: every account at a glance, deliveries with every attempt
as sent and answered, redelivering one (as stored or edited, signed afresh), a call's timeline with each voice
turn's signed request and raw reply, live while the call runs, and the live stream of happenings."""

from __future__ import annotations

import json
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from gate_agent import GateAgent
from helpers import live_events, ok, script, wait_ended

from emulator.testing import new_key
from emulator.testing.receiver import WebhookReceiver, status
from emulator.webhooks import signing

ROOT = Path(__file__).resolve().parent.parent


def sse(text: str) -> list[tuple[str, Any]]:
    """The events of a whole Server-Sent Events body."""
    events = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), "message")
        data = [line[5:].strip() for line in lines if line.startswith("data:")]
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def sms_line(api: httpx.Client, url: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An agent with a number and an agent webhook at `url`: (agent, number, webhook)."""
    agent = ok(api.post("/v1/agents", json={"name": "Inspector Bot"}))
    number = ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
    # message.sent too (a skill-doc event), so an outbound text makes a delivery
    hook = ok(api.post(f"/v1/agents/{agent['id']}/webhook",
                       json={"url": url, "eventTypes": ["agent.message", "message.sent"]}))
    return agent, number, hook


def text_out(api: httpx.Client, agent: dict[str, Any]) -> str:
    """Send an SMS from the agent (one message.sent delivery); returns the delivery's ID."""
    sent = ok(api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": "+14155550160", "body": "Hi"}))
    rows = ok(api.get("/v1/webhooks/deliveries"))["data"]
    return next(d["id"] for d in rows if d["messageId"] == sent["id"])


def delivery(control: httpx.Client, delivery_id: str, attempts: int = 1, timeout: float = 15.0) -> dict[str, Any]:
    """The delivery once it has `attempts` attempts (they are made in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = ok(control.get(f"/_emulator/deliveries/{delivery_id}"))
        if len(found["attempts"]) >= attempts:
            return found
        assert time.monotonic() < deadline, f"delivery {delivery_id} never reached {attempts} attempt(s): {found}"
        time.sleep(0.02)


# --- accounts --------------------------------------------------------------------------------------------


def test_every_account_at_a_glance_for_the_admin_only(control: httpx.Client, api: httpx.Client, key: str) -> None:
    agent = ok(api.post("/v1/agents", json={"name": "Counted"}))
    ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
    listed = ok(control.get("/_emulator/accounts"))
    mine = next(a for a in listed["data"] if a["key"] == key)
    assert (mine["agents"], mine["numbers"], mine["calls"], mine["conversations"]) == (1, 1, 0, 0)
    assert mine["keyHint"] == f"sk_test_…{key[-4:]}" and mine["plan"] == "free"
    assert listed["total"] == len(listed["data"])
    refused = api.get("/_emulator/accounts")  # an account key acts on its own account only
    assert refused.status_code == 403 and "every account" in refused.json()["detail"]


# --- deliveries: every attempt, redelivery -------------------------------------------------------------


def test_each_attempt_is_kept_as_sent_and_as_answered(api: httpx.Client, control: httpx.Client) -> None:
    with WebhookReceiver(strict=True) as rx:
        agent, _number, hook = sms_line(api, rx.url_for("/hook"))
        rx.expect("/hook", hook["secret"])
        rx.route("/hook", status(500, "try later"), status(200, '{"ok": true}'))
        delivery_id = text_out(api, agent)
        first = delivery(control, delivery_id)
        sent = rx.wait_for(1)[0]
        attempt = first["attempts"][0]
        assert (attempt["number"], attempt["kind"], attempt["httpStatus"], attempt["responseBody"]) == (
            1, "first", 500, "try later")
        assert first["status"] == "pending" and attempt["nextRetryAt"] == first["nextRetryAt"] is not None
        # the headers as sent, with the signature (it verifies over the body as sent), never the secret
        headers = attempt["requestHeaders"]
        assert headers["X-Webhook-Signature"] == sent.headers["x-webhook-signature"]
        assert headers["X-Webhook-ID"] == delivery_id and headers["X-Webhook-Event"] == "message.sent"
        assert attempt["requestBody"].encode() == sent.body and attempt["bodyChanged"] is False
        assert headers["X-Webhook-Signature"] == signing.signature(hook["secret"], headers["X-Webhook-Timestamp"],
                                                                   sent.body)
        assert hook["secret"] not in json.dumps(first)

        ok(control.post("/_emulator/clock", json={"advance": 10}))  # the first retry falls due
        second = delivery(control, delivery_id, attempts=2)
        assert [(a["number"], a["kind"], a["httpStatus"]) for a in second["attempts"]] == [
            (1, "first", 500), (2, "retry", 200)]
        assert second["status"] == "success" and second["attemptCount"] == 2 and second["nextRetryAt"] is None
        assert second["attempts"][1]["nextRetryAt"] is None


def test_redeliver_sends_it_again_as_stored_or_edited_signed_afresh(api: httpx.Client, control: httpx.Client) -> None:
    # Every request is verified with the SDK: the edited body must be signed over its own bytes.
    with WebhookReceiver(strict=True) as rx:
        agent, _number, hook = sms_line(api, rx.url_for("/hook"))
        rx.expect("/hook", hook["secret"])
        delivery_id = text_out(api, agent)
        delivery(control, delivery_id)

        again = ok(control.post(f"/_emulator/deliveries/{delivery_id}/redeliver"))
        assert (again["attempt"]["number"], again["attempt"]["kind"], again["attempt"]["httpStatus"]) == (
            2, "redeliver", 200)
        payload = json.loads(again["delivery"]["payload"])
        payload["data"]["message"] = "An edited text"
        edited = json.dumps(payload)
        changed = ok(control.post(f"/_emulator/deliveries/{delivery_id}/redeliver", json={"body": edited}))
        assert (changed["attempt"]["kind"], changed["attempt"]["bodyChanged"]) == ("edited", True)
        assert changed["attempt"]["requestBody"] == edited
        assert [a["kind"] for a in changed["delivery"]["attempts"]] == ["first", "redeliver", "edited"]
        assert changed["delivery"]["attemptCount"] == 3 and changed["delivery"]["status"] == "success"

        got = rx.wait_for(3)
        assert [d.webhook_id for d in got] == [delivery_id] * 3
        assert got[1].body == got[0].body and got[2].body == edited.encode()
        assert got[2].json["data"]["message"] == "An edited text"
        assert changed["attempt"]["requestHeaders"]["X-Webhook-Signature"] == got[2].headers["x-webhook-signature"]


def test_redeliver_follows_the_webhook_that_would_receive_it_now(api: httpx.Client, control: httpx.Client) -> None:
    with WebhookReceiver(strict=True) as rx:
        agent, _number, hook = sms_line(api, rx.url_for("/old"))
        rx.expect("/old", hook["secret"])
        delivery_id = text_out(api, agent)
        delivery(control, delivery_id)
        ok(api.delete(f"/v1/agents/{agent['id']}/webhook"))
        nowhere = control.post(f"/_emulator/deliveries/{delivery_id}/redeliver")
        assert nowhere.status_code == 409 and "nowhere to redeliver" in nowhere.json()["detail"]

        project = ok(api.post("/v1/webhooks", json={"url": rx.url_for("/new")}))
        rx.expect("/new", project["secret"])
        moved = ok(control.post(f"/_emulator/deliveries/{delivery_id}/redeliver"))
        assert moved["attempt"]["url"] == rx.url_for("/new") and moved["delivery"]["url"] == rx.url_for("/new")
        assert moved["delivery"]["webhookId"] == project["id"]
        assert rx.wait_for(1, path="/new")[0].webhook_id == delivery_id


def test_redeliver_refuses_a_body_that_is_not_text_and_unknown_ids_are_404(api: httpx.Client,
                                                                           control: httpx.Client) -> None:
    with WebhookReceiver(strict=True) as rx:
        agent, _number, hook = sms_line(api, rx.url_for("/hook"))
        rx.expect("/hook", hook["secret"])
        delivery_id = text_out(api, agent)
        wrong = control.post(f"/_emulator/deliveries/{delivery_id}/redeliver", json={"body": {"not": "text"}})
        assert wrong.status_code == 400 and "body" in wrong.json()["detail"]
    for path in ("/_emulator/deliveries/dlv_doesnotexist", "/_emulator/deliveries/dlv_doesnotexist/redeliver",
                 "/_emulator/calls/call_doesnotexist/timeline"):
        missing = control.request("POST" if path.endswith("redeliver") else "GET", path)
        assert missing.status_code == 404 and missing.json()["detail"].endswith("_doesnotexist' was not found.")


def test_a_tampered_body_fault_shows_the_bytes_that_were_sent(api: httpx.Client, control: httpx.Client,
                                                             key: str) -> None:
    with WebhookReceiver() as rx:  # the fault breaks the signature on purpose
        agent, _number, _hook = sms_line(api, rx.url_for("/hook"))
        ok(control.post("/_emulator/faults", json={"key": key, "webhook": "tampered-body"}))
        delivery_id = text_out(api, agent)
        attempt = delivery(control, delivery_id)["attempts"][0]
        stored = ok(control.get(f"/_emulator/deliveries/{delivery_id}"))["payload"]
        assert attempt["bodyChanged"] is True and attempt["requestBody"] == stored + " "
        assert rx.wait_for(1)[0].body == (stored + " ").encode()


# --- a call's timeline ---------------------------------------------------------------------------------


def call_line(api: httpx.Client, control: httpx.Client, key: str, agent_url: str) -> tuple[dict[str, Any], str]:
    """A webhook agent with a number; returns (agent, the webhook secret)."""
    ok(control.patch(f"/_emulator/accounts/{key}", json={"plan": "pro"}))
    agent = ok(api.post("/v1/agents", json={"name": "Timeline Bot", "beginMessage": "Hello, Acme here."}))
    ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
    hook = ok(api.post("/v1/webhooks", json={"url": agent_url}))
    return agent, hook["secret"]


def test_a_calls_timeline_has_each_turns_signed_request_and_raw_reply(api: httpx.Client, control: httpx.Client,
                                                                      key: str) -> None:
    replies = [[{"text": "Let me check.", "interim": True}, {"text": "Tuesday at 2pm works."}],
               {"text": "Goodbye!", "hangup": True}]
    with GateAgent(replies) as agent_app:
        agent, agent_app.secret = call_line(api, control, key, agent_app.url)
        to = script(api, [{"say": "Can I book Tuesday?"}, {"press": "1"}])
        call = ok(api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": to}))
        wait_ended(api, call["id"])
        events = sse(ok_text(control.get(f"/_emulator/calls/{call['id']}/timeline")))
        assert agent_app.failures == []

    names = [name for name, _ in events]
    assert names[:2] == ["connected", "call"] and names[-1] == "ended" and names.count("call") == 1
    turns = [data for name, data in events if name == "turn"]
    assert [t["turn"]["kind"] for t in turns] == ["greeting", "speech", "dtmf"]
    assert turns[0]["delivery"] is None  # the greeting asks no one
    hits = agent_app.voice_hits()
    for turn, hit in zip(turns[1:], hits, strict=True):
        attempt = turn["delivery"]["attempts"][0]
        assert attempt["requestBody"].encode() == hit.body
        assert attempt["requestHeaders"]["X-Webhook-Signature"] == hit.headers["x-webhook-signature"]
        assert attempt["turnId"] == turn["turn"]["id"]
    streamed = turns[1]
    assert streamed["turn"]["chunks"] == ["Let me check.", "Tuesday at 2pm works."]
    assert streamed["delivery"]["attempts"][0]["streamed"] is True
    assert streamed["delivery"]["attempts"][0]["responseBody"] == "".join(
        json.dumps(line) + "\n" for line in replies[0])
    assert turns[2]["turn"]["callerDigits"] == "1" and turns[2]["turn"]["hangup"] is True
    assert events[-1][1] == {"callId": call["id"], "status": "completed", "durationSeconds": events[1][1][
        "durationSeconds"], "endReason": "agent-hangup"}


def ok_text(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    return resp.text


def test_the_timeline_streams_turns_while_the_call_runs(api: httpx.Client, control: httpx.Client, key: str,
                                                        base_url: str) -> None:
    with GateAgent([{"text": "One moment."}, {"text": "All done.", "hangup": True}]) as agent_app:
        agent_app.hold(1)  # the second turn waits until the test has seen the first one live
        agent, agent_app.secret = call_line(api, control, key, agent_app.url)
        to = script(api, [{"say": "First question"}, {"say": "Second question"}])
        call = ok(api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": to}))
        seen: list[tuple[str, Any]] = []
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as mine, \
                mine.stream("GET", f"/_emulator/calls/{call['id']}/timeline") as stream:
            assert stream.status_code == 200
            for name, data in live_events(stream):
                seen.append((name, data))
                if name == "call" and len(seen) == 2:  # as it was when the stream opened
                    assert data["status"] == "in-progress"
                if name == "turn" and data["turn"]["transcript"] == "First question":
                    assert data["delivery"]["attempts"][0]["responseBody"] == '{"text": "One moment."}'
                    agent_app.release(1)
                if name == "ended":
                    break
        assert agent_app.timed_out == [] and agent_app.failures == []  # the test saw turn 1 while the call waited
    kinds = [(name, data["turn"]["transcript"] if name == "turn" else None) for name, data in seen]
    assert kinds.index(("turn", "First question")) < kinds.index(("turn", "Second question"))
    assert seen[-1][1]["status"] == "completed" and seen[-2][1]["status"] == "completed"


# --- the live stream of happenings ---------------------------------------------------------------------


def test_the_event_stream_tells_an_account_what_happens_to_it(http_api: httpx.Client, control: httpx.Client,
                                                              key: str, base_url: str) -> None:
    api = http_api  # an endless stream needs real HTTP
    agent = ok(api.post("/v1/agents", json={"name": "Watched"}))
    number = ok(api.post("/v1/numbers", json={"agentId": agent["id"]}))
    other = new_key()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {other}"}, timeout=30) as stranger:
        their_agent = ok(stranger.post("/v1/agents", json={"name": "Not yours"}))
        their_number = ok(stranger.post("/v1/numbers", json={"agentId": their_agent["id"]}))
    account_id = ok(control.get(f"/_emulator/accounts/{key}"))["id"]
    seen = []
    with api.stream("GET", "/_emulator/events", timeout=30) as stream:
        assert stream.status_code == 200
        for name, data in live_events(stream):
            seen.append((name, data))
            if name == "live":  # what follows happens now
                spoofed = httpx.get(f"{base_url}/v1/calls", headers={"Authorization": f"Bearer {other}",
                                                                       "X-Sub-Account-Id": account_id})
                assert spoofed.status_code == 404  # naming someone else's account as a sub-account reaches nobody
                ok(api.get("/v1/agents"))
                ok(control.post("/_emulator/sms", json={"from": "+14155550161", "to": their_number["phoneNumber"],
                                                        "body": "for someone else"}))
                ok(control.post("/_emulator/sms", json={"from": "+14155550161", "to": number["phoneNumber"],
                                                        "body": "Hello, watcher"}))
            if name == "happening" and data["kind"] == "sms.in":
                break
    happened = [data for name, data in seen if name == "happening"]
    assert all(h["accounts"] in ([], [account_id]) for h in happened), happened
    texted = happened[-1]
    assert '"Hello, watcher"' in texted["text"] and texted["data"]["direction"] == "inbound"
    assert any(h["kind"] == "request" and h["data"]["path"] == "/v1/agents" for h in happened)  # its /v1 requests
    assert not any("for someone else" in h["text"] for h in happened)
    assert not any(h["kind"] == "request" and h["data"]["path"] == "/v1/calls" for h in happened)

    # later: what is known so far, after a sequence number, and then the stream ends
    later = sse(ok_text(api.get("/_emulator/events", params={"follow": "false", "since": texted["seq"] - 1})))
    assert [(name, data["kind"]) for name, data in later if name == "happening"] == [("happening", "sms.in")]
    refused = api.get("/_emulator/events", params={"key": other, "follow": "false"})
    assert refused.status_code == 403


# --- shipped with the package --------------------------------------------------------------------------


def test_every_inspector_file_is_package_data_and_served() -> None:
    """`pip install .` must carry the inspector: each of its files matches a package-data pattern."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["emulator"]
    package = ROOT / "emulator"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    files = {path for path in (package / "inspector").rglob("*") if path.is_file()}
    assert package / "inspector" / "index.html" in files and package / "inspector" / "js" / "main.js" in files
    assert sorted(map(str, files - shipped)) == []


@pytest.mark.parametrize("path", ["/", "/_emulator/ui", "/_emulator/ui/js/main.js", "/_emulator/ui/inspector.css"])
def test_the_inspector_is_served_with_a_strict_content_policy(base_url: str, path: str) -> None:
    page = httpx.get(base_url + path, timeout=10)
    assert page.status_code == 200 and page.content
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_unknown_inspector_files_are_404_and_paths_cannot_escape(base_url: str) -> None:
    for path in ("/_emulator/ui/nothing.js", "/_emulator/ui/../api/root.py", "/_emulator/ui/%2e%2e/store/db.py"):
        missing = httpx.get(base_url + path, timeout=10)
        assert missing.status_code == 404, path
        assert missing.json()["detail"]
