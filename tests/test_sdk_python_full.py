"""Every method of the official Python SDK, sync (`AgentPhone`) and async (`AsyncAgentPhone`), against a real
emulator, without a single unexpected exception.

Each test drives one area through `Driven`, which records every SDK method called and runs the async
client's coroutines (and async generators) to completion on the test's own event loop, so one body of
assertions serves both clients. The last test checks that every public method of every resource was driven
in both modes, the WhatsApp methods (`/integrations/whatsapp/*`, simulated) included.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from agentphone import (
    Agent,
    AgentList,
    AgentPhone,
    AgentPhoneError,
    AsyncAgentPhone,
    AvailableNumber,
    Call,
    CallList,
    CallRecording,
    CallTranscript,
    Contact,
    ContactList,
    Conversation,
    ConversationList,
    ConversationMessage,
    DailyUsage,
    LocationRefreshResponse,
    LocationResponse,
    MessageList,
    MonthlyUsage,
    NotFoundError,
    NumberLookupEntry,
    PhoneNumber,
    PhoneNumberList,
    SipTrunk,
    Usage,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryStats,
)
from helpers import sms_in

from emulator.phones import CA_AREA_CODES
from emulator.testing import InProcessEmulator, new_key
from emulator.testing.receiver import WebhookReceiver, held, say

MODES = ("sync", "async")
# (resource, method) pairs driven so far, per mode.
DRIVEN: dict[str, set[tuple[str, str]]] = {mode: set() for mode in MODES}


async def _drain(stream: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in stream]


class _Resource:
    def __init__(self, target: Any, name: str, driven: Driven) -> None:
        self._target, self._name, self._driven = target, name, driven

    def __getattr__(self, method: str) -> Callable[..., Any]:
        function = getattr(self._target, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            DRIVEN[self._driven.mode].add((self._name, method))
            result = function(*args, **kwargs)
            loop = self._driven.loop
            if inspect.isawaitable(result):
                assert loop is not None
                return loop.run_until_complete(result)
            if inspect.isasyncgen(result):
                assert loop is not None
                return iter(loop.run_until_complete(_drain(result)))
            return result

        return call


class Driven:
    """An SDK client whose every method call is recorded; async results are awaited on `loop`."""

    def __init__(self, client: Any, mode: str, loop: asyncio.AbstractEventLoop | None) -> None:
        self.client, self.mode, self.loop = client, mode, loop

    def __getattr__(self, resource: str) -> _Resource:
        return _Resource(getattr(self.client, resource), resource, self)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator(server: InProcessEmulator) -> InProcessEmulator:
    """The session's emulator (the clock is never moved here), over real HTTP for the SDK."""
    return server


@pytest.fixture(scope="module")
def control(emulator: InProcessEmulator) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        receiver.reply({"text": "Sure thing.", "hangup": True})
        yield receiver


@pytest.fixture
def key(control: httpx.Client) -> str:
    """A fresh account on the scale plan with the recording add-on."""
    fresh = new_key()
    resp = control.patch(f"/_emulator/accounts/{fresh}", json={"plan": "scale", "recordingEnabled": True})
    assert resp.status_code == 200, resp.text
    return fresh


@pytest.fixture(params=MODES)
def sdk(request: pytest.FixtureRequest, emulator: InProcessEmulator, key: str) -> Iterator[Driven]:
    mode: str = request.param
    if mode == "sync":
        client = AgentPhone(api_key=key, base_url=emulator.base_url, timeout=30)
        try:
            yield Driven(client, mode, None)
        finally:
            client.close()
        return
    loop = asyncio.new_event_loop()
    async_client = AsyncAgentPhone(api_key=key, base_url=emulator.base_url, timeout=30)
    try:
        yield Driven(async_client, mode, loop)
    finally:
        loop.run_until_complete(async_client.close())
        loop.close()


# --- helpers ---------------------------------------------------------------------------------


def emulator_now(control: httpx.Client) -> datetime:
    return datetime.fromisoformat(control.get("/_emulator/clock").json()["now"].replace("Z", "+00:00"))


def stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def finished(sdk: Driven, call_id: str, timeout: float = 60.0) -> Call:
    deadline = time.monotonic() + timeout
    while True:
        call = sdk.calls.get(call_id)
        if call.status not in ("registered", "in-progress"):
            return call
        assert time.monotonic() < deadline, f"call {call_id} still {call.status}"
        time.sleep(0.05)


def usage_day(control: httpx.Client) -> str:
    return emulator_now(control).date().isoformat()


def header(received: Any, name: str) -> str | None:
    return next((v for k, v in received.headers.items() if k.lower() == name.lower()), None)


def code_of(control: httpx.Client, verification_id: str) -> str:
    resp = control.get(f"/_emulator/verifications/{verification_id}")
    assert resp.status_code == 200, resp.text
    return str(resp.json()["code"])


# --- numbers ---------------------------------------------------------------------------------


def test_numbers(sdk: Driven, control: httpx.Client) -> None:
    agent = sdk.agents.create(name="Numbers")
    expires = stamp(emulator_now(control) + timedelta(days=30))
    number = sdk.numbers.buy(country="US", area_code="415", agent_id=agent.id, type="imessage",
                             external_id="crm-1", expires_at=expires)
    assert isinstance(number, PhoneNumber)
    assert number.phone_number.startswith("+1415") and number.country == "US" and number.status == "active"
    assert (number.type, number.agent_id, number.external_id) == ("imessage", agent.id, "crm-1")
    assert number.expires_at == expires.replace("Z", ".000Z")
    assert number.outbound_sms == "enabled" and number.inbound_calls_enabled is True
    assert number.purchased_at == number.created_at
    plain = sdk.numbers.buy()
    assert (plain.type, plain.agent_id, plain.external_id, plain.expires_at) == ("sms", None, None, None)

    listed = sdk.numbers.list()
    assert isinstance(listed, PhoneNumberList)
    assert [n.id for n in listed.data] == [plain.id, number.id] and listed.total == 2 and listed.has_more is False
    page = sdk.numbers.list(limit=1, offset=1)
    assert [n.id for n in page.data] == [number.id] and page.has_more is False

    later = stamp(emulator_now(control) + timedelta(days=60))
    updated = sdk.numbers.update(number.id, external_id="crm-2", expires_at=later)
    assert updated.external_id == "crm-2" and updated.expires_at == later.replace("Z", ".000Z")
    assert sdk.numbers.get(number.id) == updated

    available = sdk.numbers.available(area_code="212", limit=3)
    assert len(available) == 3 and all(isinstance(a, AvailableNumber) for a in available)
    assert {(a.area_code, a.city, a.state) for a in available} == {("212", "New York", "NY")}
    assert sdk.numbers.available(area_code="212", limit=3) == available
    canada = sdk.numbers.available(country="CA", limit=4)
    assert len(canada) == 4 and {a.area_code for a in canada} <= CA_AREA_CODES
    assert {a.city for a in sdk.numbers.available(city="Boston", state="MA", zip="02108", limit=2)} == {"Boston"}

    entries = sdk.numbers.lookup([number.phone_number, "+14155550123"])
    assert all(isinstance(e, NumberLookupEntry) for e in entries)
    assert [e.phone_number for e in entries] == [number.phone_number, "+14155550123"]
    assert (entries[0].line_type, entries[0].country, entries[0].rcs_enabled) == ("voip", "US", False)
    assert sdk.numbers.lookup(f"{number.phone_number},+14155550123") == entries
    with pytest.raises(AgentPhoneError) as too_many:
        sdk.numbers.lookup([f"+1415555{i:04d}" for i in range(26)])
    assert too_many.value.status == 400 and "25" in too_many.value.message

    empty = {"firstName": None, "lastName": None, "displayName": None, "hasAvatar": False}
    assert sdk.numbers.get_contact_card(number.id) == empty
    card = sdk.numbers.set_contact_card(number.id, "Ada", "Lovelace", display_name="Ada at Acme",
                                        avatar_url="https://acme.example/ada.png")
    assert card == {"firstName": "Ada", "lastName": "Lovelace", "displayName": "Ada at Acme", "hasAvatar": True}
    assert sdk.numbers.get_contact_card(number.id) == card
    assert sdk.numbers.delete_contact_card(number.id) == {}
    assert sdk.numbers.get_contact_card(number.id) == empty

    first = sms_in(control, "+14155550111", number.phone_number, "First")
    # (sms_in waits for the next millisecond: the before/after cursors compare at millisecond precision)
    second = sms_in(control, "+14155550111", number.phone_number, "Second")
    messages = sdk.numbers.get_messages(number.id)
    assert isinstance(messages, MessageList) and messages.has_more is False
    assert [m.body for m in messages.data] == ["Second", "First"]
    newest = messages.data[0]
    assert (newest.from_number, newest.to_number, newest.direction, newest.channel) == (
        "+14155550111", number.phone_number, "inbound", "imessage")
    assert newest.conversation_id == second["conversationId"]
    one = sdk.numbers.get_messages(number.id, limit=1)
    assert [m.id for m in one.data] == [second["id"]] and one.has_more is True
    assert [m.id for m in sdk.numbers.get_messages(number.id, before=second["receivedAt"]).data] == [first["id"]]
    assert [m.id for m in sdk.numbers.get_messages(number.id, after=first["receivedAt"]).data] == [second["id"]]

    released = sdk.numbers.release(plain.id)
    assert released["success"] is True and released["id"] == plain.id and released["status"] == "released"
    assert sdk.numbers.get(plain.id).status == "released"
    assert [n.id for n in sdk.numbers.list().data] == [number.id]
    with pytest.raises(AgentPhoneError) as again:
        sdk.numbers.release(plain.id)
    assert again.value.status == 400
    with pytest.raises(NotFoundError):
        sdk.numbers.get("pn_doesnotexist")


# --- contacts --------------------------------------------------------------------------------


def test_contacts(sdk: Driven) -> None:
    alice = sdk.contacts.create("(415) 555-0100", "Alice Smith", email="alice@example.com", notes="VIP")
    assert isinstance(alice, Contact)
    assert (alice.phone_number, alice.name, alice.email, alice.notes) == (
        "+14155550100", "Alice Smith", "alice@example.com", "VIP")
    bob = sdk.contacts.create("+12125550199", "Bob Jones")
    assert bob.email is None and bob.notes is None

    listed = sdk.contacts.list()
    assert isinstance(listed, ContactList)
    assert [c.id for c in listed.data] == [bob.id, alice.id] and listed.total == 2 and listed.has_more is False
    assert [c.id for c in sdk.contacts.list(search="alice").data] == [alice.id]
    assert [c.id for c in sdk.contacts.list(limit=1, offset=1).data] == [alice.id]
    assert sdk.contacts.get(alice.id) == alice

    changed = sdk.contacts.update(alice.id, name="Alice Cooper", email="ac@example.com", notes="Rock")
    assert (changed.name, changed.email, changed.notes, changed.phone_number) == (
        "Alice Cooper", "ac@example.com", "Rock", "+14155550100")
    moved = sdk.contacts.update(bob.id, phone_number="212-555-0188")
    assert moved.phone_number == "+12125550188" and moved.name == "Bob Jones"
    with pytest.raises(AgentPhoneError) as clash:
        sdk.contacts.update(bob.id, phone_number="+14155550100")
    assert clash.value.status == 409 and "+14155550100" in clash.value.message
    with pytest.raises(AgentPhoneError) as duplicate:
        sdk.contacts.create("+14155550100", "Again")
    assert duplicate.value.status == 409

    with pytest.raises(AgentPhoneError) as no_line:
        sdk.contacts.get_capabilities("+14155550102")
    assert no_line.value.status == 400 and "iMessage" in no_line.value.message
    sdk.numbers.buy(type="imessage")
    capabilities = sdk.contacts.get_capabilities("+14155550102")
    assert capabilities["phoneNumber"] == "+14155550102"
    assert capabilities["capabilities"] == {"imessage": True, "sms": True} and capabilities["checkedAt"]

    assert sdk.contacts.delete(alice.id) == {}
    with pytest.raises(NotFoundError):
        sdk.contacts.get(alice.id)
    assert [c.id for c in sdk.contacts.list().data] == [bob.id]


# --- agents ----------------------------------------------------------------------------------


def test_agents(sdk: Driven, hook: WebhookReceiver) -> None:
    agent = sdk.agents.create(
        name="Support", description="Answers questions", voice_mode="webhook", model_tier="turbo",
        system_prompt="Be brief.", begin_message="Hello!", voice="nova", transfer_number="+14155550123",
        voicemail_message="Call back", stt_mode="accurate", ambient_sound="office",
        denoising_mode="noise-cancellation", max_silence_ms=30_000, enable_messaging=True, enable_backchannel=True,
        interruption_sensitivity=0.4, voice_speed=1.1, language="en-GB",
    )
    assert isinstance(agent, Agent) and agent.id.startswith("agent_")
    assert (agent.name, agent.description, agent.voice_mode, agent.model_tier) == (
        "Support", "Answers questions", "webhook", "turbo")
    assert (agent.voice, agent.transfer_number, agent.stt_mode, agent.ambient_sound) == (
        "nova", "+14155550123", "accurate", "office")
    assert (agent.max_silence_ms, agent.voice_speed, agent.interruption_sensitivity, agent.language) == (
        30_000, 1.1, 0.4, "en-GB")
    assert agent.enable_messaging is True and agent.enable_backchannel is True and agent.numbers == []
    other = sdk.agents.create(name="Other")

    listed = sdk.agents.list()
    assert isinstance(listed, AgentList) and [a.id for a in listed.data] == [other.id, agent.id]
    assert listed.total == 2 and listed.has_more is False
    assert [a.id for a in sdk.agents.list(limit=1).data] == [other.id]
    assert sdk.agents.get(agent.id) == agent
    updated = sdk.agents.update(agent.id, name="Support v2", voice_speed=0.9, language="fr-FR")
    assert (updated.name, updated.voice_speed, updated.language, updated.voice) == ("Support v2", 0.9, "fr-FR", "nova")

    voices = sdk.agents.list_voices()
    assert voices and {"voiceId", "name"} <= set(voices[0])

    number = sdk.numbers.buy()
    attached = sdk.agents.attach_number(agent.id, number.id)
    assert attached["success"] is True and attached["number"]["id"] == number.id
    assert [n.id for n in sdk.agents.get(agent.id).numbers] == [number.id]

    call = sdk.calls.make(agent.id, "+15005550005", system_prompt="Say hi.")
    assert finished(sdk, call.id).status == "completed"
    calls = sdk.agents.list_calls(agent.id)
    assert isinstance(calls, CallList) and [c.id for c in calls.data] == [call.id] and calls.total == 1
    assert sdk.agents.list_calls(agent.id, limit=5, offset=1).data == []
    sdk.messages.send(agent_id=agent.id, to_number="+14155550144", body="Hi from the agent")
    conversations = sdk.agents.list_conversations(agent.id)
    assert isinstance(conversations, ConversationList)
    assert [c.participant for c in conversations.data] == ["+14155550144"]
    assert conversations.data[0].agent_id == agent.id and conversations.total == 1

    assert sdk.agents.get_webhook(agent.id) is None
    webhook = sdk.agents.set_webhook(agent.id, hook.url, context_limit=5, timeout=10)
    assert isinstance(webhook, Webhook)
    assert (webhook.url, webhook.context_limit, webhook.timeout, webhook.status) == (hook.url, 5, 10, "active")
    assert webhook.secret.startswith("whsec_")
    assert sdk.agents.get_webhook(agent.id) == webhook
    tested = sdk.agents.test_webhook(agent.id)
    assert tested["delivered"] is True and tested["httpStatus"] == 200 and tested["agentId"] == agent.id
    arrived = [r for r in hook.wait_for(1) if header(r, "X-Webhook-ID") == tested["deliveryId"]]
    assert len(arrived) == 1 and arrived[0].event["test"] is True and arrived[0].event["agentId"] == agent.id
    deliveries = sdk.agents.list_webhook_deliveries(agent.id, limit=10)
    assert all(isinstance(d, WebhookDelivery) for d in deliveries)
    test_delivery = next(d for d in deliveries if d.id == tested["deliveryId"])
    assert (test_delivery.status, test_delivery.http_status, test_delivery.event_type) == (
        "success", 200, "agent.message")
    deleted_hook = sdk.agents.delete_webhook(agent.id)
    assert deleted_hook["success"] is True and deleted_hook["id"] == webhook.id
    assert sdk.agents.get_webhook(agent.id) is None

    detached = sdk.agents.detach_number(agent.id, number.id)
    assert detached["success"] is True and detached["numberId"] == number.id
    assert sdk.agents.get(agent.id).numbers == []
    sdk.agents.attach_number(agent.id, number.id)
    deleted = sdk.agents.delete(agent.id)
    assert (deleted["success"], deleted["id"], deleted["name"]) == (True, agent.id, "Support v2")
    assert deleted["unassignedNumbers"] == [number.id]
    with pytest.raises(NotFoundError):
        sdk.agents.get(agent.id)


# --- calls -----------------------------------------------------------------------------------


def test_calls(sdk: Driven, control: httpx.Client) -> None:
    agent = sdk.agents.create(name="Caller", voice_mode="hosted", system_prompt="Help {{name}}.",
                              begin_message="Hi {{name}}!")
    number = sdk.numbers.buy(agent_id=agent.id)
    placed = sdk.calls.make(agent.id, "+14155550123", initial_greeting="Hello {{name}}, this is Acme.",
                            from_number_id=number.id, system_prompt="Confirm the booking.",
                            variables={"name": "Ada"}, model_tier="turbo")
    assert isinstance(placed, Call)
    assert (placed.status, placed.direction, placed.agent_id) == ("in-progress", "outbound", agent.id)
    assert (placed.from_number, placed.to_number, placed.phone_number_id) == (
        number.phone_number, "+14155550123", number.id)

    done = finished(sdk, placed.id)
    assert done.status == "completed" and done.ended_at and (done.duration_seconds or 0) > 0
    assert done.agent_name == "Caller" and done.last_transcript_snippet
    assert done.transcripts and all(isinstance(t, CallTranscript) for t in done.transcripts)
    assert done.transcripts[0].response == "Hello Ada, this is Acme."
    assert done.recording_available is True and done.recording_url and done.recording_url.endswith(
        f"/v1/calls/{placed.id}/recording")

    recording = sdk.calls.get_recording(placed.id)
    assert isinstance(recording, CallRecording)
    assert recording.content_type == "audio/wav" and bytes(recording)[:4] == b"RIFF" and len(recording) > 44

    transcript = sdk.calls.get_transcript(placed.id)
    assert transcript["callId"] == placed.id and transcript["status"] == "completed"
    assert [t["id"] for t in transcript["data"]] == [t.id for t in done.transcripts]
    events = list(sdk.calls.stream_transcript(placed.id))
    assert events[0] == {"event": "connected", "data": {"callId": placed.id, "status": "completed"}}
    assert [e["data"]["id"] for e in events if e["event"] == "turn"] == [t.id for t in done.transcripts]
    assert events[-1]["event"] == "ended" and events[-1]["data"]["status"] == "completed"

    topic = sdk.calls.make_conversation(agent.id, "+15005550005", "Confirm Tuesday at 2pm.",
                                        initial_greeting="Hi, quick question.", from_number_id=number.id,
                                        model_tier="balanced")
    assert isinstance(topic, Call) and topic.status == "in-progress"
    assert finished(sdk, topic.id).status == "completed"
    busy = finished(sdk, sdk.calls.make(agent.id, "+15005550001").id)
    assert busy.status == "busy"
    with pytest.raises(NotFoundError):
        sdk.calls.get_recording(busy.id)

    everything = sdk.calls.list()
    assert isinstance(everything, CallList) and everything.total == 3
    assert [c.id for c in everything.data] == [busy.id, topic.id, placed.id]
    completed = sdk.calls.list(status="completed", direction="outbound", type="pstn", limit=10)
    assert [c.id for c in completed.data] == [topic.id, placed.id]
    assert [c.id for c in sdk.calls.list(search="5550001").data] == [busy.id]
    on_number = sdk.numbers.list_calls(number.id)
    assert isinstance(on_number, CallList) and on_number.total == 3
    assert [c.id for c in sdk.numbers.list_calls(number.id, limit=1, offset=2).data] == [placed.id]

    web = sdk.calls.create_web_call(agent.id, metadata={"user": "u1"}, variables={"name": "Grace"})
    assert web["status"] == "registered" and web["accessToken"].startswith("webtok_")
    assert web["metadata"] == {"user": "u1"} and web["variables"] == {"name": "Grace"} and web["expiresAt"]
    joined = control.post(f"/_emulator/calls/web/{web['id']}/join",
                          json={"accessToken": web["accessToken"], "turns": [{"say": "Bye!"}]})
    assert joined.status_code == 200, joined.text
    web_done = finished(sdk, web["id"])
    assert web_done.status == "completed" and web_done.transcripts[0].response == "Hi Grace!"


def test_end_call(sdk: Driven) -> None:
    never = threading.Event()
    with WebhookReceiver() as slow:
        slow.answer_with(held(never, say("One moment.")))  # the agent never answers: only ending stops the wait
        agent = sdk.agents.create(name="Slow")
        sdk.numbers.buy(agent_id=agent.id)
        sdk.agents.set_webhook(agent.id, slow.url, timeout=10)
        call = sdk.calls.make(agent.id, "+14155550123")
        slow.wait_for(1)
        ended = sdk.calls.end(call.id)
        assert (ended["id"], ended["status"], ended["endReason"]) == (call.id, "completed", "ended-by-api")
        assert sdk.calls.get(call.id).status == "completed"
        with pytest.raises(AgentPhoneError) as again:
            sdk.calls.end(call.id)
        assert again.value.status == 400


# --- messages and conversations --------------------------------------------------------------


def test_messages_and_conversations(sdk: Driven, control: httpx.Client) -> None:
    agent = sdk.agents.create(name="Texter")
    blue = sdk.numbers.buy(agent_id=agent.id, type="imessage")
    green = sdk.numbers.buy(type="sms")

    sent = sdk.messages.send(agent_id=agent.id, to_number="+14155550177", body="Your order shipped.")
    assert (sent["status"], sent["channel"], sent["from_number"], sent["to_number"]) == (
        "sent", "imessage", blue.phone_number, "+14155550177")
    assert sent["body"] == "Your order shipped." and sent["conversation_id"].startswith("conv_")
    reaction = sdk.messages.react(sent["id"], "love")
    assert (reaction["reaction_type"], reaction["message_id"], reaction["channel"]) == ("love", sent["id"], "imessage")
    media = sdk.messages.send(number_id=green.id, to_number="+14155550178", body="Receipt attached",
                              media_url="https://acme.example/receipt.png")
    assert media["channel"] == "sms" and media["media_urls"] == ["https://acme.example/receipt.png"]
    by_from = sdk.messages.send(from_number=green.phone_number, to_number="+14155550178", body="Thanks!",
                                media_urls=["https://acme.example/a.png"], send_style="invisible")
    assert by_from["conversation_id"] == media["conversation_id"]
    with pytest.raises(AgentPhoneError) as sms_reaction:
        sdk.messages.react(media["id"], "like")
    assert sms_reaction.value.status == 400 and "iMessage" in sms_reaction.value.message
    reply = sms_in(control, "+14155550177", blue.phone_number, "Great, thanks!")

    conv_id = sent["conversation_id"]
    listed = sdk.conversations.list()
    assert isinstance(listed, ConversationList) and listed.total == 2
    assert [c.id for c in listed.data] == [conv_id, media["conversation_id"]]
    assert [c.id for c in sdk.conversations.list(limit=1, offset=1).data] == [media["conversation_id"]]

    conversation = sdk.conversations.get(conv_id)
    assert isinstance(conversation, Conversation)
    assert (conversation.phone_number, conversation.participant, conversation.channel) == (
        blue.phone_number, "+14155550177", "imessage")
    assert conversation.message_count == 2 and conversation.agent_id == agent.id
    assert all(isinstance(m, ConversationMessage) for m in conversation.messages)
    assert [m.body for m in conversation.messages] == ["Great, thanks!", "Your order shipped."]
    assert [m.id for m in sdk.conversations.get(conv_id, message_limit=1).messages] == [reply["id"]]

    updated = sdk.conversations.update(conv_id, metadata={"tier": "gold"}, group_name="Ignored for 1:1")
    assert updated.metadata == {"tier": "gold"} and updated.id == conv_id
    assert sdk.conversations.get(conv_id).metadata == {"tier": "gold"}

    messages = sdk.conversations.get_messages(conv_id)
    assert isinstance(messages, MessageList) and [m.id for m in messages.data] == [reply["id"], sent["id"]]
    page = sdk.conversations.get_messages(conv_id, limit=1)
    assert [m.id for m in page.data] == [reply["id"]] and page.has_more is True
    assert [m.id for m in sdk.conversations.get_messages(conv_id, before=reply["receivedAt"]).data] == [sent["id"]]
    after = sdk.conversations.get_messages(conv_id, after="2000-01-01T00:00:00Z")
    assert [m.id for m in after.data] == [reply["id"], sent["id"]]

    typing = sdk.conversations.send_typing(conv_id)
    assert typing == {"conversationId": conv_id, "channel": "imessage", "status": "sent"}
    background = sdk.conversations.set_background(conv_id, "https://acme.example/wall.png")
    assert background["changed"] is True and background["hasBackground"] is True
    assert sdk.conversations.set_background(conv_id, "https://acme.example/wall.png")["changed"] is False
    assert sdk.conversations.delete_background(conv_id) == {}
    with pytest.raises(AgentPhoneError) as sms_typing:
        sdk.conversations.send_typing(media["conversation_id"])
    assert sms_typing.value.status == 400


# --- webhooks --------------------------------------------------------------------------------


def test_webhooks(sdk: Driven, hook: WebhookReceiver) -> None:
    assert sdk.webhooks.get() is None
    assert sdk.webhooks.list_deliveries() == []
    webhook = sdk.webhooks.set(hook.url, context_limit=3, timeout=8)
    assert isinstance(webhook, Webhook)
    assert (webhook.url, webhook.context_limit, webhook.timeout, webhook.status) == (hook.url, 3, 8, "active")
    assert sdk.webhooks.get() == webhook

    tested = sdk.webhooks.test(from_="+14155550111", to="+14155550122", message="Ping", channel="sms")
    assert tested["delivered"] is True and tested["webhookId"] == webhook.id and tested["channel"] == "sms"
    [arrived] = [r for r in hook.wait_for(1) if header(r, "X-Webhook-ID") == tested["deliveryId"]]
    event = arrived.event
    assert event["test"] is True and event["event"] == "agent.message"
    assert (event["data"]["from"], event["data"]["to"], event["data"]["message"]) == (
        "+14155550111", "+14155550122", "Ping")
    assert sdk.webhooks.test()["delivered"] is True

    deliveries = sdk.webhooks.list_deliveries(limit=10, offset=0, hours=1)
    assert len(deliveries) == 2 and all(isinstance(d, WebhookDelivery) for d in deliveries)
    assert {d.status for d in deliveries} == {"success"} and {d.http_status for d in deliveries} == {200}
    assert tested["deliveryId"] in {d.id for d in deliveries}
    assert [d.id for d in sdk.webhooks.list_deliveries(limit=1, offset=1)] == [deliveries[1].id]
    stats = sdk.webhooks.get_delivery_stats(hours=24)
    assert isinstance(stats, WebhookDeliveryStats)
    assert (stats.total, stats.success, stats.failed, stats.pending, stats.success_rate) == (2, 2, 0, 0, 100.0)
    assert stats.by_event_type["agent.message"]["total"] == 2 and stats.by_hour
    assert sdk.webhooks.get_all_time_stats() == {"total": 2, "success": 2, "failed": 0, "pending": 0,
                                                 "successRate": 100.0}

    deleted = sdk.webhooks.delete()
    assert deleted["success"] is True and deleted["id"] == webhook.id
    assert sdk.webhooks.get() is None
    with pytest.raises(AgentPhoneError) as no_hook:
        sdk.webhooks.test()
    assert no_hook.value.status == 400


# --- usage -----------------------------------------------------------------------------------


def test_usage(sdk: Driven, control: httpx.Client) -> None:
    agent = sdk.agents.create(name="Counted", voice_mode="hosted", system_prompt="Be brief.")
    number = sdk.numbers.buy(agent_id=agent.id)
    sms_in(control, "+14155550111", number.phone_number, "hello")
    sdk.messages.send(agent_id=agent.id, to_number="+14155550111", body="hi back")
    call = finished(sdk, sdk.calls.make(agent.id, "+15005550005").id)

    usage = sdk.usage.get()
    assert isinstance(usage, Usage)
    assert (usage.numbers.used, usage.numbers.limit, usage.numbers.remaining) == (1, 100, 99)
    assert (usage.stats.total_messages, usage.stats.messages_last_24h, usage.stats.total_calls) == (2, 2, 1)
    assert usage.stats.sms_segments_last_30d == 2 and usage.period_start < usage.period_end

    daily = sdk.usage.get_daily(days=7)
    assert isinstance(daily, DailyUsage) and daily.days == 7 and len(daily.data) == 7
    assert (sum(d.messages for d in daily.data), sum(d.calls for d in daily.data)) == (2, 1)
    assert daily.data[-1].date == usage_day(control)
    assert len(sdk.usage.get_daily().data) == 30
    monthly = sdk.usage.get_monthly(months=3)
    assert isinstance(monthly, MonthlyUsage) and monthly.months == 3 and len(monthly.data) == 3
    assert (sum(m.messages for m in monthly.data), sum(m.calls for m in monthly.data)) == (2, 1)
    assert monthly.data[-1].month == usage_day(control)[:7]
    assert len(sdk.usage.get_monthly().data) == 6

    assert sdk.usage.get_by_number() == [{
        "numberId": number.id, "phoneNumber": number.phone_number, "country": "US", "status": "active",
        "agentId": agent.id, "agentName": "Counted", "messages": 2, "calls": 1,
    }]
    by_agent = sdk.usage.get_by_agent("week")
    assert by_agent["period"] == "week" and by_agent["periodStart"] < by_agent["periodEnd"]
    assert by_agent["data"] == [{"agentId": agent.id, "agentName": "Counted", "messages": 2, "calls": 1,
                                 "totalSeconds": call.duration_seconds, "isOrphan": False}]
    with pytest.raises(AgentPhoneError) as no_period:
        sdk.usage.get_by_agent()
    assert no_period.value.status == 400 and "period" in no_period.value.message


# --- registration and verification -----------------------------------------------------------


REGISTRATION: dict[str, Any] = {
    "registration_type": "sole_proprietor", "first_name": "Ada", "last_name": "Lovelace",
    "email": "ada@acme.example", "phone_number": "+14155550100", "street_address": "1 Main St",
    "city": "San Francisco", "state": "CA", "zip_code": "94105",
    "description": "Appointment reminders for patients of Acme Dental who opted in at the front desk.",
    "use_cases": ["account_notification", "customer_care"],
    "message_samples": ["Acme Dental: your cleaning is tomorrow at 2pm. Reply STOP to opt out.",
                        "Acme Dental: thanks for visiting! Reply HELP for help."],
    "consent_flow": "Patients tick an SMS consent box on the Acme Dental intake form before the first visit.",
    "opt_in_image_url": "https://acme.example/opt-in.png", "brand_name": "Acme Dental",
}


def test_registration_and_verification(sdk: Driven, control: httpx.Client, key: str) -> None:
    assert sdk.registration.get_status()["campaign_status"] == "none"
    with pytest.raises(NotFoundError):
        sdk.registration.get()
    submitted = sdk.registration.register(**REGISTRATION, website_url="https://acme.example", industry="health",
                                          contact_title="ceo", volume="low", includes=["links"],
                                          link_sample="https://acme.example/book", planned_numbers=2)
    assert submitted == {"ok": True, "message": "Registration submitted for review.", "campaign_status": "pending",
                         "sub_account_id": None, "fee_cents": 2500}
    assert control.get(f"/_emulator/accounts/{key}").json()["balanceCents"] == 5000 - 2500
    status = sdk.registration.get_status()
    assert status["campaign_status"] == "pending" and status["stage"] == "brand_review"
    detail = sdk.registration.get()
    assert detail["registration"]["brand_name"] == "Acme Dental" and detail["registration"]["planned_numbers"] == 2
    updated = sdk.registration.update(website_url="https://acme.example/new", volume="high",
                                      description="Appointment reminders and follow-ups for Acme Dental patients.")
    assert updated["registration"]["website_url"] == "https://acme.example/new"
    assert updated["registration"]["volume"] == "high" and updated["campaign_status"] == "pending"
    with pytest.raises(AgentPhoneError) as twice:
        sdk.registration.register(**REGISTRATION)
    assert twice.value.status == 409

    standard = sdk.registration.register(
        **{**REGISTRATION, "registration_type": "standard_brand"}, business_name="Acme Dental LLC",
        organization_type="llc", ein="12-3456789", privacy_policy_url="https://acme.example/privacy",
        terms_of_service_url="https://acme.example/terms", create_sub_account=True)
    assert standard["campaign_status"] == "pending" and standard["sub_account_id"].startswith("sub_")
    assert [s["id"] for s in sdk.sub_accounts.list()] == [standard["sub_account_id"]]
    with pytest.raises(AgentPhoneError) as broke:
        sdk.registration.register(**REGISTRATION, create_sub_account=True)
    assert broke.value.status == 402

    sent = sdk.verification.send_verification("+14155550100")
    assert (sent["status"], sent["phone_number"], sent["channel"]) == ("pending", "+14155550100", "sms")
    code = code_of(control, sent["verification_id"])
    wrong = sdk.verification.check_verification(sent["verification_id"], "000000" if code != "000000" else "111111")
    assert (wrong["status"], wrong["valid"]) == ("pending", False)
    right = sdk.verification.check_verification(sent["verification_id"], code)
    assert (right["status"], right["valid"], right["attempts"]) == ("approved", True, 2)


# --- SIP trunks, sub-accounts, location, feedback --------------------------------------------


def test_sip_trunks(sdk: Driven) -> None:
    assert sdk.sip_trunks.list() == []
    trunk = sdk.sip_trunks.create()
    assert isinstance(trunk, SipTrunk) and trunk.id.startswith("trunk_")
    assert (trunk.transfers, trunk.transfer_caller_id, trunk.transport, trunk.media_encryption) == (
        "all", "transferee", "tls", "srtp")
    assert trunk.encrypted is True and trunk.termination_sip_uri and trunk.proxy_ips
    [credential] = trunk.credentials or []
    assert credential.password and credential.password_last4 == credential.password[-4:] and credential.username

    [listed] = sdk.sip_trunks.list()
    assert listed.id == trunk.id and listed.credentials
    assert listed.credentials[0].password is None and listed.credentials[0].password_last4 == credential.password_last4
    assert sdk.sip_trunks.get(trunk.id) == listed

    changed = sdk.sip_trunks.update(
        trunk.id, name="HQ PBX", transfers="sip", transfer_caller_id="transferor",
        origination={"uris": [{"sip_uri": "sip:pbx.acme.example", "name": "pbx", "priority": 1, "weight": 10}],
                     "allowedIps": [{"cidr": "198.51.100.0/24", "name": "office"}]})
    assert (changed.name, changed.transfers, changed.transfer_caller_id) == ("HQ PBX", "sip", "transferor")
    assert [(u.sip_uri, u.name, u.priority, u.weight) for u in changed.origination_uris] == [
        ("sip:pbx.acme.example", "pbx", 1, 10)]
    assert [(a.cidr, a.name) for a in changed.allowed_ips] == [("198.51.100.0/24", "office")]
    assert changed.credentials and changed.credentials[0].password is None

    rotated = sdk.sip_trunks.update(trunk.id)
    assert rotated.credentials and rotated.credentials[0].password not in (None, credential.password)
    assert rotated.name == "HQ PBX"
    with pytest.raises(AgentPhoneError) as bad:
        sdk.sip_trunks.update(trunk.id, transfers="everything")
    assert bad.value.status == 400 and "transfers" in bad.value.message

    deleted = sdk.sip_trunks.delete(trunk.id)
    assert deleted == {"success": True, "id": trunk.id}
    with pytest.raises(NotFoundError):
        sdk.sip_trunks.get(trunk.id)


def test_sub_accounts(sdk: Driven) -> None:
    assert sdk.sub_accounts.list() == []
    clinic = sdk.sub_accounts.create("Clinic A")
    assert clinic["id"].startswith("sub_") and clinic["name"] == "Clinic A" and clinic["plan"] == "scale"
    second = sdk.sub_accounts.create("Clinic B")
    assert [s["id"] for s in sdk.sub_accounts.list()] == [clinic["id"], second["id"]]
    assert [s["id"] for s in sdk.sub_accounts.list(limit=1, offset=1)] == [second["id"]]
    renamed = sdk.sub_accounts.update(clinic["id"], "Clinic A (north)")
    assert renamed["name"] == "Clinic A (north)" and renamed["id"] == clinic["id"]
    assert sdk.sub_accounts.delete(second["id"]) == {"success": True, "id": second["id"]}
    assert [s["name"] for s in sdk.sub_accounts.list()] == ["Clinic A (north)"]
    with pytest.raises(NotFoundError):
        sdk.sub_accounts.delete(second["id"])


def test_location_and_feedback(sdk: Driven, control: httpx.Client, key: str) -> None:
    place = sdk.location.get("+14155550100")
    assert isinstance(place, LocationResponse)
    assert (place.phone_number, place.status, place.latitude, place.longitude) == (
        "+14155550100", "ok", 37.7749, -122.4194)
    assert isinstance(place.last_updated, int) and place.last_updated > 0
    nowhere = sdk.location.get("+12015550100")
    assert (nowhere.status, nowhere.latitude, nowhere.longitude) == ("unknown", None, None)
    refresh = sdk.location.refresh()
    assert isinstance(refresh, LocationRefreshResponse) and refresh.success is True and refresh.poll_after_seconds == 20

    sent = sdk.feedback.submit("bug", "The transcript stream lags.", request_id="req_1",
                               url="https://app.example/calls", tags=["voice"])
    assert sent["success"] is True and sent["id"].startswith("fb_")
    assert sdk.feedback.submit("idea", "Dark mode")["success"] is True
    account = control.get(f"/_emulator/accounts/{key}").json()["id"]
    stored = [f for f in control.get("/_emulator/feedback").json()["data"] if f["accountId"] == account]
    assert [(f["category"], f["note"], f["tags"]) for f in stored] == [
        ("bug", "The transcript stream lags.", ["voice"]), ("idea", "Dark mode", None)]


# --- WhatsApp (simulated) and iMessage groups -------------------------------------------------


def test_whatsapp(sdk: Driven, control: httpx.Client) -> None:
    """Every `WhatsAppResource` method: a connection made with a signup code is pending until the control API marks
    it connected (Meta's side); its number becomes a WhatsApp number whose messages travel as channel whatsapp."""
    agent = sdk.agents.create(name="WhatsApp agent")
    pending = sdk.whatsapp.whatsapp_connect("signup-code", waba_id="1000", phone_number_id="2000",
                                            business_id="3000", agent_id=agent.id)
    assert (pending["status"], pending["wabaId"], pending["businessId"], pending["agentId"]) == (
        "pending", "1000", "3000", agent.id)
    connection_id = pending["id"]
    with pytest.raises(AgentPhoneError) as not_yet:
        sdk.whatsapp.whatsapp_available_numbers(connection_id)
    assert not_yet.value.status == 400 and "pending" in not_yet.value.message
    marked = control.patch(f"/_emulator/whatsapp/{connection_id}", json={"status": "connected"})
    assert marked.status_code == 200, marked.text
    status = sdk.whatsapp.whatsapp_status()
    assert status["connected"] is True and [c["id"] for c in status["connections"]] == [connection_id]

    offered = sdk.whatsapp.whatsapp_available_numbers(connection_id)
    assert [n["phoneNumberId"] for n in offered["data"]] == ["2000"] and offered["total"] == 1
    number = sdk.whatsapp.whatsapp_connect_number(connection_id, "2000", agent_id=agent.id)
    assert (number["type"], number["status"], number["agentId"], number["phoneNumberId"]) == (
        "whatsapp", "active", agent.id, "2000")
    sent = sdk.messages.send(number_id=number["id"], to_number="+14155550161", body="Your table is ready.")
    assert sent["channel"] == "whatsapp" and sent["from_number"] == number["phoneNumber"]
    assert sdk.conversations.get(sent["conversation_id"]).channel == "whatsapp"

    body = [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} shipped."}]
    made = sdk.whatsapp.whatsapp_create_template(connection_id, "order_update", "UTILITY", components=body)
    assert (made["name"], made["language"], made["status"], made["category"]) == (
        "order_update", "en_US", "APPROVED", "UTILITY")
    spanish = sdk.whatsapp.whatsapp_create_template(connection_id, "order_update", "UTILITY", language="es",
                                                    parameter_format="POSITIONAL", components=body)
    sdk.whatsapp.whatsapp_create_template(connection_id, "welcome", "MARKETING",
                                          library_template_name="welcome_message")
    for bad, words in (({"name": "Order Update", "category": "UTILITY", "components": body}, "name"),
                       ({"name": "x", "category": "PROMO", "components": body}, "category"),
                       ({"name": "x", "category": "UTILITY", "components": []}, "BODY"),
                       ({"name": "order_update", "category": "UTILITY", "components": body}, "already exists")):
        with pytest.raises(AgentPhoneError) as refused:
            sdk.whatsapp.whatsapp_create_template(connection_id, **bad)
        assert refused.value.status in (400, 409) and words in refused.value.message
    listed = sdk.whatsapp.whatsapp_list_templates(connection_id)
    assert listed["total"] == 3
    found = sdk.whatsapp.whatsapp_list_templates(connection_id, name="order_update", status="APPROVED",
                                                 category="UTILITY", language="es")
    assert [t["id"] for t in found["data"]] == [spanish["id"]]
    one = sdk.whatsapp.whatsapp_delete_template(connection_id, "order_update", hsm_id=spanish["hsmId"])
    assert one["deleted"] == [spanish["id"]]
    assert sdk.whatsapp.whatsapp_delete_template(connection_id, "order_update")["deleted"] == [made["id"]]
    with pytest.raises(NotFoundError):
        sdk.whatsapp.whatsapp_delete_template(connection_id, "order_update")

    gone = sdk.whatsapp.whatsapp_disconnect(connection_id)
    assert gone["status"] == "disconnected" and gone["releasedNumbers"] == [number["id"]]
    assert sdk.numbers.get(number["id"]).status == "released"
    assert sdk.whatsapp.whatsapp_status()["connected"] is False


def test_imessage_groups(sdk: Driven, control: httpx.Client) -> None:
    agent = sdk.agents.create(name="Group agent")
    blue = sdk.numbers.buy(agent_id=agent.id, type="imessage")
    started = sdk.messages.send(agent_id=agent.id, body="Dinner at 8?",
                                recipients=["+14155550171", "(415) 555-0172", "ada@example.com"])
    group_id = started["to_number"]
    assert group_id.startswith("grp_") and started["channel"] == "imessage"
    follow = sdk.messages.send(agent_id=agent.id, to_number=group_id, body="See you there.")
    assert follow["conversation_id"] == started["conversation_id"] and follow["to_number"] == group_id
    reply = control.post("/_emulator/sms", json={"from": "+14155550172", "to": blue.phone_number, "body": "Yes!",
                                                 "group": group_id})
    assert reply.status_code == 200, reply.text
    conversation = sdk.conversations.get(started["conversation_id"])
    assert (conversation.is_group, conversation.group_id, conversation.participant) == (True, group_id, group_id)
    assert [p["identifier"] for p in conversation.participants] == ["+14155550171", "+14155550172",
                                                                   "ada@example.com"]
    assert [m.body for m in conversation.messages] == ["Yes!", "See you there.", "Dinner at 8?"]
    renamed = sdk.conversations.update(started["conversation_id"], group_name="Dinner crew")
    assert renamed.group_name == "Dinner crew"
    with pytest.raises(AgentPhoneError) as one_member:
        sdk.messages.send(agent_id=agent.id, body="Hi", recipients=["+14155550171"])
    assert one_member.value.status == 400 and "at least 2" in one_member.value.message


# --- coverage ----------------------------------------------------------------------------------


def _public_methods(client: Any) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for resource_name, resource in vars(client).items():
        if resource_name.startswith("_") or not hasattr(resource, "_client"):
            continue
        for method in dir(type(resource)):
            if not method.startswith("_") and callable(getattr(resource, method)):
                out.add((resource_name, method))
    return out


def test_every_sdk_method_was_driven(request: pytest.FixtureRequest) -> None:
    """Runs last: every public method of every resource, in both clients, was called above."""
    sync_methods = _public_methods(AgentPhone(api_key="sk_test_x", base_url="http://127.0.0.1:9"))
    async_client = AsyncAgentPhone(api_key="sk_test_x", base_url="http://127.0.0.1:9")
    async_methods = _public_methods(async_client)
    asyncio.run(async_client.close())
    assert sync_methods == async_methods and len(sync_methods) >= 80
    tests = {name for name in vars(request.module) if name.startswith("test_")}
    selected = {item.originalname for item in request.session.items if item.module is request.module}
    if tests - selected:
        pytest.skip("only part of this module was selected")
    for mode, expected in (("sync", sync_methods), ("async", async_methods)):
        assert expected - DRIVEN[mode] == set(), f"{mode} SDK methods never driven"
