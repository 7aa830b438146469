"""Every emulated operation, driven over HTTP against the real server, its responses validated twice:

- against the vendor's component schema for that operation (the real server's OpenAPI document,
  JSON Schema draft 2020-12, `format` enforced), so clients written against the vendor work;
- against the emulator's own response model (in emulator/wire/, found through the routes' declarations),
  so the render functions, the handlers and the published /openapi.json cannot drift apart.

One module-scoped scenario drives the whole API once (an account, agents, numbers, webhooks,
SMS both ways, hosted, inbound, web and ended calls, contacts, usage, registration ...) and
records every response by operation; the tests below check the records.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from emulator.api import openapi
from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import Answer, WebhookReceiver
from emulator.wire.base import Error
from emulator.wire.contacts import Contact

pytestmark = pytest.mark.also_on_postgresql  # and on PostgreSQL, where CI names a server

OPERATIONS = openapi.operations(create_app(Settings(db=":memory:")).routes)
VENDOR_FILE = Path(__file__).parent / "data" / "agentphone-openapi.json"
SHARED_FILE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "agentphone-openapi.json"
VENDOR_SHA256 = "f97047216064d1b1149801ed99b8dec663bcbc7814cef65132bd2a5750c0bd03"
VENDOR_URI = "urn:agentphone:openapi"

Key = tuple[str, str]  # (method, route path template)


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"{VENDOR_URI}#/components/schemas/{name}"}


# The vendor schema each operation's success body must satisfy. The vendor document types
# call responses as "any"; those use CallListResponse where the body is a call list.
VENDOR: dict[Key, dict[str, Any]] = {
    ("GET", "/v1/agents"): component("AgentListResponse"),
    ("POST", "/v1/agents"): component("AgentResponse"),
    ("GET", "/v1/agents/{agent_id}"): component("AgentResponse"),
    ("PATCH", "/v1/agents/{agent_id}"): component("AgentResponse"),
    ("DELETE", "/v1/agents/{agent_id}"): component("DeleteAgentResponse"),
    ("POST", "/v1/agents/{agent_id}/numbers"): component("AttachNumberResponse"),
    ("GET", "/v1/agents/{agent_id}/conversations"): component("app__routes__agents__ConversationListResponse"),
    ("GET", "/v1/agents/{agent_id}/calls"): component("CallListResponse"),
    ("GET", "/v1/numbers"): component("PhoneNumberListResponse"),
    ("POST", "/v1/numbers"): component("PhoneNumberResponse"),
    ("GET", "/v1/numbers/{number_id}"): component("PhoneNumberResponse"),
    ("PATCH", "/v1/numbers/{number_id}"): component("PhoneNumberResponse"),
    ("GET", "/v1/numbers/{number_id}/messages"): component("MessageListResponse"),
    ("GET", "/v1/numbers/{number_id}/calls"): component("CallListResponse"),
    ("GET", "/v1/numbers/{number_id}/contact-card"): component("ContactCardResponse"),
    ("PUT", "/v1/numbers/{number_id}/contact-card"): component("ContactCardResponse"),
    ("GET", "/v1/calls"): component("CallListResponse"),
    ("GET", "/v1/webhooks"): {"oneOf": [component("WebhookResponse"), {"type": "null"}]},
    ("POST", "/v1/webhooks"): component("WebhookResponse"),
    ("GET", "/v1/webhooks/deliveries"): component("PaginatedDeliveriesResponse"),
    ("GET", "/v1/webhooks/deliveries/stats"): component("WebhookDeliveryStatsResponse"),
    ("GET", "/v1/webhooks/deliveries/all-time"): component("AllTimeStatsResponse"),
    ("GET", "/v1/agents/{agent_id}/webhook"): {"oneOf": [component("WebhookResponse"), {"type": "null"}]},
    ("POST", "/v1/agents/{agent_id}/webhook"): component("WebhookResponse"),
    ("GET", "/v1/agents/{agent_id}/webhook/deliveries"): {"type": "array",
                                                          "items": component("WebhookDeliveryResponse")},
    ("GET", "/v1/conversations"): component("app__routes__conversations__ConversationListResponse"),
    ("GET", "/v1/conversations/{conversation_id}"): component("ConversationDetail"),
    ("PATCH", "/v1/conversations/{conversation_id}"): component("ConversationDetail"),
    ("GET", "/v1/conversations/{conversation_id}/messages"): component("MessagesListResponse"),
    ("POST", "/v1/conversations/{conversation_id}/typing"): component("SendTypingResponse"),
    ("POST", "/v1/conversations/{conversation_id}/background"): component("SetBackgroundResponse"),
    ("POST", "/v1/messages"): component("SendMessageResponse"),
    ("POST", "/v1/messages/{message_id}/reactions"): component("SendReactionResponse"),
    ("GET", "/v1/usage"): component("UsageResponse"),
    ("GET", "/v1/usage/daily"): component("DailyUsageResponse"),
    ("GET", "/v1/usage/monthly"): component("MonthlyUsageResponse"),
    ("GET", "/v1/usage/by-number"): component("NumberUsageResponse"),
    ("GET", "/v1/usage/by-agent"): component("AgentUsageResponse"),
    ("GET", "/v1/contacts"): component("ContactListResponse"),
    ("POST", "/v1/contacts"): component("ContactResponse"),
    ("GET", "/v1/contacts/capabilities"): component("ContactCapabilitiesResponse"),
    ("GET", "/v1/contacts/{contact_id}"): component("ContactResponse"),
    ("PATCH", "/v1/contacts/{contact_id}"): component("ContactResponse"),
    ("GET", "/v1/register/status"): component("CampaignStatusResponse"),
    ("POST", "/v1/register"): component("RegistrationResponse"),
    ("GET", "/v1/location/{phone_number}"): component("LocationResponse"),
    ("POST", "/v1/location/refresh"): component("LocationRefreshResponse"),
}

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)


def _formats() -> FormatChecker:
    """The standard checker; when `rfc3339-validator` is absent it skips date-time, so add a check."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        @checker.checks("date-time", raises=ValueError)
        def date_time(value: object) -> bool:
            if not isinstance(value, str):
                return True
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            return bool(ISO_MS_Z.match(value))
    return checker


FORMATS = _formats()


@cache
def vendor_document() -> dict[str, Any]:
    return json.loads(VENDOR_FILE.read_text())


@cache
def vendor_registry() -> Registry:
    resource = Resource.from_contents(vendor_document(), default_specification=DRAFT202012)
    return Registry().with_resource(VENDOR_URI, resource)


def vendor_errors(schema: dict[str, Any], body: Any) -> list[str]:
    validator = Draft202012Validator(schema, registry=vendor_registry(), format_checker=FORMATS)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(body)]


# --- the scenario ----------------------------------------------------------------------------------------


class Recorder:
    """Sends requests, checks each against the registry's success status, keeps it by operation.

    `/v1` requests carry the account's key; control requests go without credentials (the admin, on loopback),
    since an account key would scope them to its own account."""

    def __init__(self, client: httpx.Client, control: httpx.Client) -> None:
        self.client = client
        self.control = control
        self.seen: dict[Key, list[httpx.Response]] = defaultdict(list)
        self.errors: list[httpx.Response] = []

    def __call__(self, method: str, template: str, body: Any = None, params: dict[str, Any] | None = None,
                 **path: str) -> Any:
        sender = self.control if template.startswith("/_emulator/") else self.client
        resp = sender.request(method, template.format(**path), json=body, params=params)
        self.seen[(method, template)].append(resp)
        expected = OPERATIONS[(method, template)].status
        assert resp.status_code == expected, f"{method} {template}: {resp.status_code} {resp.text}"
        return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else None

    def error(self, method: str, url: str, status: int, body: Any = None) -> None:
        resp = self.client.request(method, url, json=body)
        assert resp.status_code == status, resp.text
        self.errors.append(resp)

    def wait_ended(self, call_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            call = self("GET", "/v1/calls/{call_id}", call_id=call_id)
            if call["status"] not in ("in-progress", "registered"):
                return call
            assert time.monotonic() < deadline, f"call {call_id} still {call['status']} after {timeout}s"
            time.sleep(0.05)


def wait_until(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


REGISTRATION = {
    "registration_type": "sole_proprietor", "first_name": "Ada", "last_name": "Lovelace",
    "email": "ada@example.com", "phone_number": "+14155550142", "brand_name": "Acme Dental",
    "street_address": "1 Market St", "city": "San Francisco", "state": "CA", "zip_code": "94105",
    "description": "Appointment reminders and confirmations for Acme Dental patients.",
    "use_cases": ["customer_care"],
    "message_samples": ["Acme Dental: your cleaning is tomorrow at 10am. Reply C to confirm.",
                        "Acme Dental: thanks, your appointment is confirmed."],
    "consent_flow": "Patients opt in on the intake form at the front desk by ticking a box.",
    "opt_in_image_url": "https://example.com/opt-in.png", "create_sub_account": False,
}


def drive(r: Recorder, key: str, project_hook: WebhookReceiver, agent_hook: WebhookReceiver) -> None:
    """Every operation at least once, in an order that gives each one something to return."""
    # control: health, clock, account settings (pro plan: several numbers; recordings on)
    r("GET", "/_emulator/health")
    r("GET", "/_emulator/clock")
    r("POST", "/_emulator/clock", {"advance": 0})
    r("PATCH", "/_emulator/accounts/{key}", {"plan": "pro", "recordingEnabled": True}, key=key)
    r("PUT", "/_emulator/accounts/{key}", {"balanceCents": 100_000}, key=key)
    r("GET", "/_emulator/accounts/{key}", key=key)

    # project webhook, agents, voices
    assert r("GET", "/v1/webhooks") is None
    r("POST", "/v1/webhooks", {"url": project_hook.url, "contextLimit": 5})
    r("GET", "/v1/webhooks")
    r("GET", "/v1/agents/voices")
    hosted = r("POST", "/v1/agents", {"name": "Receptionist", "voiceMode": "hosted", "systemPrompt": "Be brief.",
                                      "beginMessage": "Hello, Acme Dental."})
    slow = r("POST", "/v1/agents", {"name": "Webhook agent", "transferNumber": "+14155550100", "customTools": [
        {"name": "lookup_order", "description": "Look up an order", "url": "https://example.com/tools/order"}]})
    r("GET", "/v1/agents")
    r("GET", "/v1/agents/{agent_id}", agent_id=hosted["id"])
    r("PATCH", "/v1/agents/{agent_id}", {"description": "Front desk", "voiceSpeed": 1.1}, agent_id=hosted["id"])

    # numbers: search, buy, attach, detach, update, look up, contact card, release
    r("GET", "/v1/numbers/available", params={"areaCode": "415", "limit": 3})
    main = r("POST", "/v1/numbers", {"agentId": hosted["id"], "areaCode": "415"})
    imessage = r("POST", "/v1/numbers", {"type": "imessage"})
    line = r("POST", "/v1/numbers", {})
    spare = r("POST", "/v1/numbers", {})
    r("POST", "/v1/agents/{agent_id}/numbers", {"numberId": line["id"]}, agent_id=slow["id"])
    r("POST", "/v1/agents/{agent_id}/numbers", {"numberId": spare["id"]}, agent_id=slow["id"])
    r("DELETE", "/v1/agents/{agent_id}/numbers/{number_id}", agent_id=slow["id"], number_id=spare["id"])
    r("DELETE", "/v1/numbers/{number_id}", number_id=spare["id"])
    r("GET", "/v1/numbers")
    r("GET", "/v1/numbers/{number_id}", number_id=main["id"])
    r("PATCH", "/v1/numbers/{number_id}", {"externalId": "crm-1", "expiresAt": "2031-01-01T00:00:00Z"},
      number_id=main["id"])
    r("GET", "/v1/numbers/lookup", params={"phoneNumbers": f"{main['phoneNumber']},+14155550123"})
    r("PUT", "/v1/numbers/{number_id}/contact-card", {"firstName": "Ada", "displayName": "Acme Dental"},
      number_id=imessage["id"])
    r("GET", "/v1/numbers/{number_id}/contact-card", number_id=imessage["id"])
    r("DELETE", "/v1/numbers/{number_id}/contact-card", number_id=imessage["id"])
    r("GET", "/v1/numbers/{number_id}/contact-card", number_id=imessage["id"])

    # the agent webhook (answers promptly for now)
    assert r("GET", "/v1/agents/{agent_id}/webhook", agent_id=slow["id"]) is None
    r("POST", "/v1/agents/{agent_id}/webhook", {"url": agent_hook.url, "timeout": 10}, agent_id=slow["id"])
    r("GET", "/v1/agents/{agent_id}/webhook", agent_id=slow["id"])

    # messages: inbound SMS (control API), outbound SMS, an iMessage thread with its extras
    inbound = r("POST", "/_emulator/sms", {"from": "+14155550111", "to": main["phoneNumber"], "body": "Hi there",
                                           "mediaUrls": ["https://example.com/photo.jpg"]})
    conversation = inbound["conversation"]["id"]
    r("POST", "/v1/messages", {"agent_id": hosted["id"], "to_number": "+14155550111", "body": "Hello back"})
    chat = r("POST", "/_emulator/sms", {"from": "+14155550112", "to": imessage["phoneNumber"], "body": "Hey"})
    r("POST", "/v1/messages/{message_id}/reactions", {"reaction": "love"}, message_id=chat["message"]["id"])
    r("POST", "/_emulator/reactions", {"messageId": chat["message"]["id"], "reaction": "like"})
    r("POST", "/_emulator/events", {"key": key, "event": "agent.call_ended", "data": {"summary": "Triggered."}})
    r("POST", "/v1/conversations/{conversation_id}/typing", conversation_id=chat["conversation"]["id"])
    r("POST", "/v1/conversations/{conversation_id}/background", {"image_url": "https://example.com/bg.png"},
      conversation_id=chat["conversation"]["id"])
    r("DELETE", "/v1/conversations/{conversation_id}/background", conversation_id=chat["conversation"]["id"])
    r("GET", "/v1/conversations")
    r("GET", "/v1/conversations/{conversation_id}", params={"messageLimit": 10}, conversation_id=conversation)
    r("PATCH", "/v1/conversations/{conversation_id}", {"metadata": {"tier": "gold"}}, conversation_id=conversation)
    r("GET", "/v1/conversations/{conversation_id}/messages", conversation_id=conversation)
    r("GET", "/v1/agents/{agent_id}/conversations", agent_id=hosted["id"])
    r("GET", "/v1/numbers/{number_id}/messages", number_id=main["id"])

    # webhook test sends, then the delivery log (SMS deliveries have landed by now)
    project_hook.wait_for(2)  # an agent.message per inbound message (message.sent is not in the current vocabulary)
    r("POST", "/v1/webhooks/test", {})
    r("POST", "/v1/agents/{agent_id}/webhook/test", {"message": "Testing"}, agent_id=slow["id"])
    r("GET", "/v1/webhooks/deliveries")
    r("GET", "/v1/webhooks/deliveries/stats")
    r("GET", "/v1/webhooks/deliveries/all-time")
    r("GET", "/v1/agents/{agent_id}/webhook/deliveries", agent_id=slow["id"])

    # calls: a scripted callee, a hosted call to it, run to the end, with transcript, stream and recording
    callee = "+14155550199"
    r("PUT", "/_emulator/callees/{e164}", {"turns": [{"say": "Hello"}, {"say": "Goodbye"}]}, e164=callee)
    r("GET", "/_emulator/callees/{e164}", e164=callee)
    r("GET", "/_emulator/callees")
    placed = r("POST", "/v1/calls", {"agentId": hosted["id"], "toNumber": callee, "systemPrompt": "Be brief."})
    ended = r.wait_ended(placed["id"])
    assert ended["transcripts"] and ended["recordingAvailable"], ended
    r("GET", "/v1/calls/{call_id}/transcript", call_id=placed["id"])
    stream = r.client.get(f"/v1/calls/{placed['id']}/transcript/stream")
    r.seen[("GET", "/v1/calls/{call_id}/transcript/stream")].append(stream)
    recording = r.client.get(f"/v1/calls/{placed['id']}/recording", headers={"Authorization": ""})
    r.seen[("GET", "/v1/calls/{call_id}/recording")].append(recording)
    r("DELETE", "/_emulator/callees/{e164}", e164=callee)

    # someone dials in; a browser joins a web call
    dialed = r("POST", "/_emulator/calls/inbound", {"from": "+14155550123", "to": main["phoneNumber"],
                                                     "turns": [{"say": "Hi"}, {"say": "Bye"}]})
    r.wait_ended(dialed["id"])
    web = r("POST", "/v1/calls/web", {"agentId": hosted["id"], "metadata": {"page": "/pricing"}})
    r("POST", "/_emulator/calls/web/{call_id}/join", {"accessToken": web["accessToken"], "turns": [{"say": "Hi"}]},
      call_id=web["id"])
    r.wait_ended(web["id"])

    # a webhook agent whose webhook is slow: the call is still in progress when it is ended
    release = threading.Event()
    agent_hook.answer_with(lambda _received: Answer() if release.wait(60) else Answer())
    slow_call = r("POST", "/v1/calls", {"agentId": slow["id"], "toNumber": "+14155550198"})
    wait_until(lambda: any(e["event"] == "agent.message" and e["data"].get("callId") == slow_call["id"]
                           for e in agent_hook.events()))
    r("POST", "/v1/calls/{call_id}/end", call_id=slow_call["id"])
    r.error("POST", f"/v1/calls/{slow_call['id']}/end", 400)
    agent_hook.reply()
    release.set()
    r("GET", "/v1/calls", params={"limit": 10})
    r("GET", "/v1/agents/{agent_id}/calls", agent_id=hosted["id"])
    r("GET", "/v1/numbers/{number_id}/calls", number_id=main["id"])
    # a caller whose turns are sent one by one (drive): hear the greeting, hang up, hear the end
    driven = r("POST", "/_emulator/calls/inbound", {"from": "+14155550124", "to": main["phoneNumber"], "drive": True})
    asked = r("POST", "/_emulator/calls/{call_id}/caller", {}, call_id=driven["id"])
    assert asked["state"] == "asking", asked
    ended = r("POST", "/_emulator/calls/{call_id}/caller", {"turn": {"hangup": True}}, call_id=driven["id"])
    assert ended["state"] == "ended" and ended["endReason"] == "caller-hangup", ended

    # contacts
    contact = r("POST", "/v1/contacts", {"phoneNumber": "+14155550142", "name": "Ada Lovelace",
                                         "email": "ada@example.com"})
    r("GET", "/v1/contacts")
    r("GET", "/v1/contacts/{contact_id}", contact_id=contact["id"])
    r("PATCH", "/v1/contacts/{contact_id}", {"notes": "Prefers mornings"}, contact_id=contact["id"])
    r("GET", "/v1/contacts/capabilities", params={"phone_number": "+14155550142"})
    r("DELETE", "/v1/contacts/{contact_id}", contact_id=contact["id"])

    # usage
    r("GET", "/v1/usage")
    r("GET", "/v1/usage/daily", params={"days": 3})
    r("GET", "/v1/usage/monthly", params={"months": 2})
    r("GET", "/v1/usage/by-number")
    r("GET", "/v1/usage/by-agent", params={"period": "month"})

    # sub-accounts, registration, verification
    sub = r("POST", "/v1/sub-accounts", {"name": "Clinic"})
    r("GET", "/v1/sub-accounts")
    r("PATCH", "/v1/sub-accounts/{sub_account_id}", {"name": "Clinic West"}, sub_account_id=sub["id"])
    r("DELETE", "/v1/sub-accounts/{sub_account_id}", sub_account_id=sub["id"])
    r("GET", "/v1/register/status")
    r("POST", "/v1/register", REGISTRATION)
    r("GET", "/v1/register")
    r("PATCH", "/v1/register", {"city": "Oakland"})
    r("GET", "/v1/register/status")
    sent = r("POST", "/v1/verify/send", {"phone_number": "+14155550142"})
    code = r("GET", "/_emulator/verifications/{verification_id}", verification_id=sent["verification_id"])["code"]
    r("POST", "/v1/verify/check", {"verification_id": sent["verification_id"], "code": code})

    # SIP trunks, location, feedback
    trunk = r("POST", "/v1/sip-trunks", {"name": "Office"})
    r("GET", "/v1/sip-trunks")
    r("GET", "/v1/sip-trunks/{trunk_id}", trunk_id=trunk["id"])
    r("PATCH", "/v1/sip-trunks/{trunk_id}", {"name": "HQ", "transfers": "sip"}, trunk_id=trunk["id"])
    r("PATCH", "/v1/sip-trunks/{trunk_id}", {}, trunk_id=trunk["id"])
    r("DELETE", "/v1/sip-trunks/{trunk_id}", trunk_id=trunk["id"])
    r("GET", "/v1/location/{phone_number}", phone_number="+14155550123")
    r("GET", "/v1/location/{phone_number}", phone_number="+19995550123")
    r("POST", "/v1/location/refresh")
    r("POST", "/v1/feedback", {"category": "docs", "note": "The emulator docs page is handy."})
    r("GET", "/_emulator/feedback")

    # faults (for another key, so nothing here is affected), fixtures and reset of a third account
    other = new_key()
    r("POST", "/_emulator/faults", {"key": other, "status": 503, "path": "/v1/agents"})
    r("GET", "/_emulator/faults")
    r("DELETE", "/_emulator/faults")
    seeded = new_key()
    r("POST", "/_emulator/fixtures", {"accounts": [{"key": seeded, "plan": "pro", "agents": [{"name": "Seeded"}]}]})
    r("POST", "/_emulator/reset", {"key": seeded})

    # the inspector's reads: every account, a delivery with its attempts (then redelivered, edited), a call's
    # timeline and the live stream of happenings (what is known, then they end), the request journal
    r("GET", "/_emulator/accounts")
    delivery = inbound["deliveries"][0]["id"]
    wait_until(lambda: r("GET", "/_emulator/deliveries/{delivery_id}", delivery_id=delivery)["attempts"])
    r("POST", "/_emulator/deliveries/{delivery_id}/redeliver", {"body": "{}"}, delivery_id=delivery)
    r("GET", "/_emulator/calls/{call_id}/timeline", params={"follow": "false"}, call_id=dialed["id"])
    r("GET", "/_emulator/events", params={"follow": "false", "key": key})
    r("GET", "/_emulator/requests", params={"key": key, "method": "POST", "path": "/v1/messages"})

    # the recording add-on, and WhatsApp: connect, Meta's signup (control API), a number, templates, disconnect
    r("POST", "/credits/recording/enable")
    wa = r("POST", "/integrations/whatsapp/connect", {"code": "signup-code"})
    r("PATCH", "/_emulator/whatsapp/{connection_id}", {"status": "connected"}, connection_id=wa["id"])
    r("GET", "/integrations/whatsapp/status")
    offered = r("GET", "/integrations/whatsapp/{connection_id}/available-numbers", connection_id=wa["id"])
    r("POST", "/integrations/whatsapp/{connection_id}/numbers",
      {"phone_number_id": offered["data"][0]["phoneNumberId"]}, connection_id=wa["id"])
    r("POST", "/integrations/whatsapp/{connection_id}/templates", {"name": "order_update", "category": "UTILITY",
      "components": [{"type": "BODY", "text": "Your order {{1}} shipped."}]}, connection_id=wa["id"])
    r("GET", "/integrations/whatsapp/{connection_id}/templates", connection_id=wa["id"])
    r("DELETE", "/integrations/whatsapp/{connection_id}/templates", params={"name": "order_update"},
      connection_id=wa["id"])
    r("DELETE", "/integrations/whatsapp/{connection_id}", connection_id=wa["id"])

    # errors share one shape
    r.error("GET", "/v1/agents/agent_doesnotexist", 404)
    r.error("POST", "/v1/agents", 400, {"name": ""})
    r.error("GET", "/v1/nowhere", 404)

    # tear down: webhooks, then an agent with a number (unassigned by the delete)
    r("DELETE", "/v1/agents/{agent_id}/webhook", agent_id=slow["id"])
    r("DELETE", "/v1/webhooks")
    r("DELETE", "/v1/agents/{agent_id}", agent_id=slow["id"])


@pytest.fixture(scope="module")
def traffic(server: InProcessEmulator) -> Iterator[Recorder]:
    key = new_key()
    headers = {"Authorization": f"Bearer {key}"}
    with (httpx.Client(base_url=server.base_url, headers=headers, timeout=20) as client,
          httpx.Client(base_url=server.base_url, timeout=20) as control,
          WebhookReceiver() as project_hook, WebhookReceiver() as agent_hook):
        recorder = Recorder(client, control)
        drive(recorder, key, project_hook, agent_hook)
        yield recorder


# --- the vendor document -----------------------------------------------------------------------------------


def test_repository_copy_of_the_vendor_document_is_the_whole_document() -> None:
    """Every vendor-schema check reads tests/data's copy, never a file outside the repository: the copy is
    pinned, so a truncated or edited one fails here instead of quietly checking less."""
    document = vendor_document()
    assert document["openapi"].startswith("3.1")
    assert hashlib.sha256(VENDOR_FILE.read_bytes()).hexdigest() == VENDOR_SHA256
    operations = sum(len(item) for item in document["paths"].values())
    assert (len(document["paths"]), operations, len(document["components"]["schemas"])) == (48, 67, 106)


def test_repository_copy_of_the_vendor_document_matches_the_shared_one() -> None:
    if not SHARED_FILE.exists():
        pytest.skip(f"{SHARED_FILE} is not here to compare with (the repository copy is checked above)")
    assert json.loads(SHARED_FILE.read_text()) == vendor_document()


def test_every_vendor_operation_with_a_response_schema_is_checked() -> None:
    """Each vendor path/method whose success body has a component schema is in VENDOR, and vice versa."""
    documented: set[Key] = set()
    for path, item in vendor_document()["paths"].items():
        for method, op in item.items():
            for status, response in op.get("responses", {}).items():
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if status.startswith("2") and "$ref" in json.dumps(schema) and status != "204":
                    documented.add((method.upper(), path))
    assert documented - VENDOR.keys() == set()
    for key, schema in VENDOR.items():  # every reference resolves in the vendor document
        for name in re.findall(r"#/components/schemas/(\w+)", json.dumps(schema)):
            assert name in vendor_document()["components"]["schemas"], (key, name)


def test_date_time_format_is_enforced_and_accepts_our_timestamps() -> None:
    assert FORMATS.conforms("2026-01-05T10:00:00.123Z", "date-time")
    assert not FORMATS.conforms("2026-13-05T10:00:00.123Z", "date-time")
    assert not FORMATS.conforms("yesterday", "date-time")
    contact = {"id": "c_1", "phoneNumber": "+14155550142", "name": "Ada", "createdAt": "2026-01-05T10:00:00.123Z",
               "updatedAt": "2026-01-05T10:00:00.123Z"}
    assert vendor_errors(component("ContactResponse"), contact) == []
    errors = vendor_errors(component("ContactResponse"), {**contact, "createdAt": "last Tuesday"})
    assert errors and "createdAt" in errors[0]


# --- the recorded traffic ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(VENDOR), ids=" ".join)
def test_responses_satisfy_the_vendor_schema(traffic: Recorder, key: Key) -> None:
    responses = traffic.seen.get(key)
    assert responses, f"{key} was not exercised"
    for resp in responses:
        assert vendor_errors(VENDOR[key], resp.json()) == [], f"{key}: {resp.text[:2000]}"


@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=" ".join)
def test_responses_match_the_emulator_models(traffic: Recorder, key: Key) -> None:
    """Each operation was driven; each response has the registry's status and parses with its model."""
    op = OPERATIONS[key]
    responses = traffic.seen.get(key)
    assert responses, f"{key} was not exercised"
    for resp in responses:
        assert resp.status_code == op.status, resp.text
        if op.status == 204:
            assert resp.content == b""
        elif op.media is not None:
            assert resp.headers["content-type"].startswith(op.media)
            assert resp.content
        elif op.nullable and resp.json() is None:
            continue
        else:
            assert op.response is not None
            op.response.model_validate_json(resp.content)


def test_error_responses_match_the_error_model(traffic: Recorder) -> None:
    assert [resp.status_code for resp in traffic.errors] == [400, 404, 400, 404]
    for index, resp in enumerate(traffic.errors):
        error = Error.model_validate_json(resp.content)
        assert error.detail
        assert (error.errors is not None) == (index == 2)  # only the field-rule error lists `errors`
    validation = Error.model_validate_json(traffic.errors[2].content)
    assert validation.errors and validation.errors[0]["loc"][:2] == ["body", "name"]


def test_the_scenario_exercised_what_it_meant_to(traffic: Recorder) -> None:
    """Spot checks that the records hold real content, not empty lists."""
    def last(method: str, path: str) -> Any:
        return traffic.seen[(method, path)][-1].json()

    assert last("GET", "/v1/agents")["total"] == 2
    assert last("GET", "/v1/calls")["total"] == 4
    assert {c["status"] for c in last("GET", "/v1/calls")["data"]} == {"completed"}
    assert last("GET", "/v1/webhooks/deliveries")["items"]
    assert last("GET", "/v1/webhooks/deliveries/stats")["byHour"]
    assert last("GET", "/v1/agents/{agent_id}/webhook/deliveries")
    assert last("GET", "/v1/conversations/{conversation_id}")["messages"]
    assert last("GET", "/v1/usage/by-number")["data"]
    assert last("GET", "/v1/register/status")["campaign_status"] == "pending"
    assert last("POST", "/v1/verify/check")["valid"] is True
    assert last("DELETE", "/v1/agents/{agent_id}")["unassignedNumbers"]
    stream = traffic.seen[("GET", "/v1/calls/{call_id}/transcript/stream")][0].text
    assert "event: connected" in stream and "event: ended" in stream
    assert traffic.seen[("GET", "/v1/calls/{call_id}/recording")][0].content[:4] == b"RIFF"


def test_response_models_reject_drift() -> None:
    """A field the models do not declare, or a missing one, fails: that is what keeps them in step."""
    contact = {"id": "c_1", "phoneNumber": "+14155550142", "name": "Ada", "email": None, "notes": None,
               "createdAt": "2026-01-05T10:00:00.123Z", "updatedAt": "2026-01-05T10:00:00.123Z"}
    Contact.model_validate(contact)
    with pytest.raises(ValueError):
        Contact.model_validate({**contact, "nickname": "Ada"})
    with pytest.raises(ValueError):
        Contact.model_validate({k: v for k, v in contact.items() if k != "email"})
    with pytest.raises(ValueError):
        Contact.model_validate({**contact, "createdAt": "2026-01-05 10:00:00"})


def test_vendor_validation_catches_a_wrong_response(traffic: Recorder) -> None:
    agent = traffic.seen[("POST", "/v1/agents")][0].json()
    schema = VENDOR[("POST", "/v1/agents")]
    assert vendor_errors(schema, agent) == []
    assert vendor_errors(schema, {k: v for k, v in agent.items() if k != "voice"})
    assert vendor_errors(schema, {**agent, "voiceMode": "robot"})
    assert vendor_errors(schema, {**agent, "numbers": [{"id": "pn_1"}]})


# GETs whose answer on a brand-new account is all defaults and empty lists.
EMPTY = [
    ("/v1/agents", {}), ("/v1/numbers", {}), ("/v1/calls", {}), ("/v1/conversations", {}), ("/v1/contacts", {}),
    ("/v1/webhooks", {}), ("/v1/webhooks/deliveries", {}), ("/v1/webhooks/deliveries/stats", {}),
    ("/v1/webhooks/deliveries/all-time", {}), ("/v1/usage", {}), ("/v1/usage/daily", {}),
    ("/v1/usage/monthly", {}), ("/v1/usage/by-number", {}), ("/v1/usage/by-agent", {"period": "week"}),
    ("/v1/register/status", {}),
]


@pytest.mark.parametrize(("path", "params"), EMPTY, ids=[path for path, _ in EMPTY])
def test_a_fresh_account_satisfies_both_schemas(api: httpx.Client, path: str, params: dict[str, str]) -> None:
    resp = api.get(path, params=params)
    assert resp.status_code == 200, resp.text
    assert vendor_errors(VENDOR[("GET", path)], resp.json()) == []
    op = OPERATIONS[("GET", path)]
    if not (op.nullable and resp.json() is None):
        assert op.response is not None
        op.response.model_validate_json(resp.content)
