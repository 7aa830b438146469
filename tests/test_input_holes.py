"""Input a fuzzer found accepted or answered with a 500: each is refused with a sentence and writes nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from emulator.testing import new_key
from emulator.testing.receiver import Reply, WebhookReceiver


def _refused(response: httpx.Response, status: int, phrase: str) -> None:
    assert response.status_code == status, response.text
    assert phrase in response.json()["detail"], response.json()["detail"]


@pytest.mark.parametrize("body", [{"areaCode": "415\n"}, {"areaCode": "415 "}])
def test_an_area_code_with_a_trailing_newline_buys_nothing(api: httpx.Client, body: dict[str, Any]) -> None:
    _refused(api.post("/v1/numbers", json=body), 400, "areaCode")
    assert api.get("/v1/numbers").json()["total"] == 0
    assert api.post("/v1/numbers", json={"areaCode": "415"}).status_code == 200  # the one free number is left


def test_phone_numbers_with_a_trailing_newline_are_refused(api: httpx.Client, control: httpx.Client) -> None:
    _refused(api.post("/v1/agents", json={"name": "A", "transferNumber": "+14155550123\n"}), 400, "transferNumber")
    _refused(control.put("/_emulator/callees/+14155550123%0A", json={"turns": []}), 400, "e164")
    assert api.get("/v1/agents").json()["total"] == 0


@pytest.mark.parametrize("tz", ["Europe", "x" * 300, "../../etc/passwd", "Europe/Paris\n"])
def test_an_unknown_time_zone_is_a_400_not_a_500(api: httpx.Client, tz: str) -> None:
    _refused(api.get("/v1/usage/by-agent", params={"period": "week", "tz": tz}), 400, "IANA time zone")


def test_sip_trunk_settings_cannot_be_nulled(api: httpx.Client) -> None:
    trunk = api.post("/v1/sip-trunks", json={"name": "Main"}).json()
    for field in ("name", "transfers", "transfer_caller_id"):
        _refused(api.patch(f"/v1/sip-trunks/{trunk['id']}", json={field: None}), 400, f"'{field}' cannot be null")
    after = api.get(f"/v1/sip-trunks/{trunk['id']}").json()
    assert (after["name"], after["transfers"], after["transferCallerId"]) == ("Main", "all", "transferee")


@pytest.mark.parametrize(("path", "allowed"), [
    ("/v1/agents/voices", "GET, HEAD"),
    ("/v1/calls/web", "POST"),
    ("/v1/location/refresh", "POST"),
    ("/v1/agents/agent_x", "DELETE, GET, HEAD, PATCH"),
])
def test_options_names_the_methods_of_the_path_itself(api: httpx.Client, path: str, allowed: str) -> None:
    response = api.options(path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert allowed in response.json()["detail"]


def test_the_served_document_declares_the_ranges_it_enforces(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    checked = 0
    for path, item in document["paths"].items():
        for method, op in item.items():
            for param in op["parameters"]:
                schema = param.get("schema", {})
                if param.get("in") != "query" or schema.get("type") != "integer":
                    continue
                assert "minimum" in schema and "maximum" in schema, (method, path, param["name"])
                checked += 1
    assert checked > 20
    listed = document["paths"]["/v1/agents"]["get"]["parameters"]
    assert {p["name"]: p["schema"] for p in listed if p.get("in") == "query"}["limit"] == {
        "type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    _refused(api.get("/v1/agents", params={"limit": 0}), 400, "between 1 and 100")
    assert api.get("/v1/agents", params={"limit": 1}).status_code == 200


def test_a_reset_whose_body_is_not_an_object_resets_nothing(control: httpx.Client, api: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "Survivor"}).json()
    for body in (b"null", b"[]", b'"everything"', b"7"):
        _refused(control.post("/_emulator/reset", content=body, headers={"Content-Type": "application/json"}),
                 400, "must be a JSON object")
    assert api.get(f"/v1/agents/{agent['id']}").status_code == 200


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/hook\r\nX-Injected: 1", "http://127.0.0.1:9/a b", "ftp://127.0.0.1/hook",
    "javascript:alert(1)", "http:///nohost", "http://127.0.0.1:9/" + "a" * 3000,
])
def test_webhook_urls_with_hidden_or_foreign_parts_are_refused(api: httpx.Client, url: str) -> None:
    response = api.post("/v1/webhooks", json={"url": url})
    assert response.status_code == 400, response.text
    assert "'url'" in response.json()["detail"]
    assert api.get("/v1/webhooks").json() is None


def test_media_and_image_urls_are_checked_too(api: httpx.Client, control: httpx.Client) -> None:
    key = api.headers["Authorization"].removeprefix("Bearer ")
    control.patch(f"/_emulator/accounts/{key}", json={"plan": "pro"})
    agent = api.post("/v1/agents", json={"name": "Texter"}).json()
    number = api.post("/v1/numbers", json={"agentId": agent["id"]}).json()
    sent = api.post("/v1/messages", json={"agent_id": agent["id"], "to_number": "+14155550142",
                                          "media_urls": ["http://cdn.example/a b.png"]})
    _refused(sent, 400, "media_urls[0]")
    inbound = control.post("/_emulator/sms", json={"from": "+14155550142", "to": number["phoneNumber"], "body": "x",
                                                   "mediaUrls": ["file:///etc/passwd"]})
    _refused(inbound, 400, "mediaUrls[0]")
    card = api.put(f"/v1/numbers/{number['id']}/contact-card", json={"firstName": "A",
                                                                     "avatarUrl": "http://a/\nb"})
    _refused(card, 400, "avatarUrl")
    assert api.get("/v1/conversations").json()["total"] == 0


@pytest.mark.parametrize(("field", "size"), [("description", 2_001), ("systemPrompt", 20_001),
                                              ("beginMessage", 2_001), ("callScreeningPurpose", 501)])
def test_agent_texts_have_maximum_lengths(api: httpx.Client, field: str, size: int) -> None:
    _refused(api.post("/v1/agents", json={"name": "Long", field: "x" * size}), 400, f"'{field}' must be at most")
    assert api.post("/v1/agents", json={"name": "Long", field: "x" * (size - 1)}).status_code == 200


def test_conversation_metadata_has_a_maximum_size(api: httpx.Client, control: httpx.Client) -> None:
    agent = api.post("/v1/agents", json={"name": "Keeper"}).json()
    number = api.post("/v1/numbers", json={"agentId": agent["id"]}).json()
    sms = control.post("/_emulator/sms", json={"from": "+14155550143", "to": number["phoneNumber"], "body": "hi"})
    conversation_id = sms.json()["conversation"]["id"]
    _refused(api.patch(f"/v1/conversations/{conversation_id}", json={"metadata": {"blob": "x" * 20_000}}), 400,
             "'metadata' must be at most 16 KiB")
    assert api.get(f"/v1/conversations/{conversation_id}").json()["metadata"] is None


def test_an_endless_interim_stream_does_not_inflate_the_call(api: httpx.Client, control: httpx.Client,
                                                             base_url: str) -> None:
    interim = json.dumps({"text": "Still thinking about your question, one moment please.",
                          "interim": True}).encode() + b"\n"
    with WebhookReceiver() as rx:
        rx.route("/voice", Reply(200, content_type="application/x-ndjson", stream=interim * 50, interval=0.001,
                                 count=200))
        agent = api.post("/v1/agents", json={"name": "Rambler"}).json()
        api.post("/v1/numbers", json={"agentId": agent["id"]})
        hook = api.post(f"/v1/agents/{agent['id']}/webhook", json={"url": rx.url_for("/voice")}).json()
        rx.expect("/voice", hook["secret"])
        to = "+14155550144"
        key = api.headers["Authorization"].removeprefix("Bearer ")
        control.put(f"/_emulator/callees/{to}", params={"key": key}, json={"turns": [{"say": "Hello?"}]})
        call = api.post("/v1/calls", json={"agentId": agent["id"], "toNumber": to}).json()
        deadline = time.monotonic() + 60
        while (done := api.get(f"/v1/calls/{call['id']}").json())["status"] == "in-progress":
            assert time.monotonic() < deadline, "the call never ended"
            time.sleep(0.05)
    turn = next(t for t in done["transcripts"] if t["kind"] == "speech")
    assert turn["response"] is None and "exceeded 64 KiB" in turn["error"]
    # The greeting is empty, "Hello?" takes under a second to say: the call is seconds long, not hours.
    assert done["durationSeconds"] <= 5


def test_keys_with_a_trailing_newline_are_not_keys(control: httpx.Client) -> None:
    _refused(control.get(f"/_emulator/accounts/{new_key()}%0A"), 401, "Invalid API key")
    _refused(control.post("/_emulator/faults", json={"key": new_key() + "\n", "status": 500}), 401, "Invalid API key")
