"""The official Python SDK (`agentphone`), unchanged, against the real emulator."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from agentphone import (
    Agent,
    AgentPhone,
    AsyncAgentPhone,
    AuthenticationError,
    Call,
    CallList,
    Conversation,
    ConversationList,
    DailyUsage,
    MessageList,
    MonthlyUsage,
    NotFoundError,
    PhoneNumber,
    PhoneNumberList,
    Usage,
    Webhook,
)
from helpers import E164_NANP, ISO_MS, hosted_call, ok, sms_in, tick, upgrade, wait_ended

from emulator.testing.receiver import WebhookReceiver, say


@pytest.fixture
def upgraded(control: httpx.Client, key: str, sdk: AgentPhone) -> None:
    sdk.agents.list()  # the account exists from the first request on
    upgrade(control, key)


@pytest.mark.usefixtures("upgraded")
def test_agents_lifecycle(sdk: AgentPhone, api: httpx.Client, control: httpx.Client) -> None:
    agent = sdk.agents.create(
        name="SDK Agent", description="made by the SDK", voice_mode="hosted", model_tier="turbo",
        system_prompt="Be brief.", begin_message="Hello!", voice="nova", transfer_number="+14155550123",
        voicemail_message="Call me back", stt_mode="accurate", ambient_sound="coffee-shop",
        denoising_mode="noise-and-background-speech-cancellation", max_silence_ms=20000, enable_messaging=False,
        enable_backchannel=False, interruption_sensitivity=0.5, voice_speed=1.25, language="fr-FR",
    )
    assert isinstance(agent, Agent)
    assert agent.id.startswith("agent_")
    assert (agent.name, agent.description, agent.voice_mode, agent.model_tier) == (
        "SDK Agent", "made by the SDK", "hosted", "turbo")
    assert (agent.system_prompt, agent.begin_message, agent.voice) == ("Be brief.", "Hello!", "nova")
    assert agent.transfer_number == "+14155550123" and agent.voicemail_message == "Call me back"
    assert (agent.stt_mode, agent.ambient_sound) == ("accurate", "coffee-shop")
    assert agent.denoising_mode == "noise-and-background-speech-cancellation"
    assert agent.max_silence_ms == 20000 and agent.enable_messaging is False and agent.enable_backchannel is False
    assert agent.interruption_sensitivity == 0.5 and agent.voice_speed == 1.25 and agent.language == "fr-FR"
    assert agent.numbers == []
    assert ISO_MS.match(agent.created_at)

    plain = sdk.agents.create(name="Plain")
    assert (plain.voice_mode, plain.voice, plain.model_tier, plain.stt_mode) == (
        "webhook", "11labs-Brian", "balanced", "fast")
    assert (plain.max_silence_ms, plain.voice_speed, plain.interruption_sensitivity, plain.language) == (
        600000, 1.0, 0.8, "en-US")

    assert sdk.agents.get(agent.id) == agent
    listed = sdk.agents.list()
    assert [a.id for a in listed.data] == [plain.id, agent.id]
    assert listed.total == 2 and listed.has_more is False
    page = sdk.agents.list(limit=1, offset=1)
    assert [a.id for a in page.data] == [agent.id] and page.total == 2

    updated = sdk.agents.update(agent.id, name="Renamed", voice_speed=0.75)
    assert updated.name == "Renamed" and updated.voice_speed == 0.75
    assert updated.system_prompt == "Be brief." and updated.language == "fr-FR" and updated.voice == "nova"

    voices = sdk.agents.list_voices()
    assert isinstance(voices, list) and voices
    assert {"voiceId", "name", "provider", "gender"} <= set(voices[0])

    number = sdk.numbers.buy(area_code="415")
    attached = sdk.agents.attach_number(agent.id, number.id)
    assert attached["agentId"] == agent.id
    assert attached["number"]["id"] == number.id and attached["number"]["phoneNumber"] == number.phone_number
    shown = sdk.agents.get(agent.id)
    assert [(n.id, n.phone_number, n.status, n.type) for n in shown.numbers] == [
        (number.id, number.phone_number, "active", "sms")]

    call_id = hosted_call(api, control, agent.id)["id"]
    sms_in(control, "+14155550111", number.phone_number, "hey")
    calls = sdk.agents.list_calls(agent.id)
    assert isinstance(calls, CallList)
    assert [c.id for c in calls.data] == [call_id] and calls.total == 1 and calls.has_more is False
    conversations = sdk.agents.list_conversations(agent.id)
    assert isinstance(conversations, ConversationList)
    assert [c.participant for c in conversations.data] == ["+14155550111"]
    assert conversations.data[0].agent_id == agent.id and conversations.total == 1

    detached = sdk.agents.detach_number(agent.id, number.id)
    assert detached["success"] is True
    assert sdk.agents.get(agent.id).numbers == []
    assert sdk.numbers.get(number.id).agent_id is None

    sdk.agents.attach_number(agent.id, number.id)
    deleted = sdk.agents.delete(agent.id)
    assert deleted["success"] is True and deleted["id"] == agent.id and deleted["name"] == "Renamed"
    assert deleted["unassignedNumbers"] == [number.id]
    with pytest.raises(NotFoundError):
        sdk.agents.get(agent.id)
    assert sdk.numbers.get(number.id).status == "active"


@pytest.mark.usefixtures("upgraded")
def test_numbers(sdk: AgentPhone, api: httpx.Client, control: httpx.Client) -> None:
    agent = sdk.agents.create(name="Owner")
    number = sdk.numbers.buy(country="US", area_code="212", agent_id=agent.id)
    assert isinstance(number, PhoneNumber)
    assert number.id.startswith("pn_") and number.country == "US" and number.status == "active"
    assert number.phone_number.startswith("+1212") and E164_NANP.match(number.phone_number)
    assert number.agent_id == agent.id and number.type == "sms"
    assert ISO_MS.match(number.created_at)
    canadian = sdk.numbers.buy(country="CA")
    assert canadian.country == "CA" and E164_NANP.match(canadian.phone_number)

    listed = sdk.numbers.list()
    assert isinstance(listed, PhoneNumberList)
    assert [n.id for n in listed.data] == [canadian.id, number.id]
    assert listed.total == 2 and listed.has_more is False
    assert sdk.numbers.get(number.id) == number

    conv = [sms_in(control, "+13125550100", number.phone_number, f"hello {i}") for i in range(3)][0]["conversationId"]
    messages = sdk.numbers.get_messages(number.id, limit=2)
    assert isinstance(messages, MessageList)
    assert [m.body for m in messages.data] == ["hello 2", "hello 1"] and messages.has_more is True
    newest = messages.data[0]
    assert newest.from_number == "+13125550100" and newest.to_number == number.phone_number
    assert newest.direction == "inbound" and newest.channel == "sms" and newest.conversation_id == conv
    assert ISO_MS.match(newest.received_at)
    older = sdk.numbers.get_messages(number.id, before=newest.received_at)
    assert [m.body for m in older.data] == ["hello 1", "hello 0"] and older.has_more is False

    call_id = hosted_call(api, control, agent.id)["id"]
    number_calls = sdk.numbers.list_calls(number.id)
    assert [c.id for c in number_calls.data] == [call_id] and number_calls.total == 1

    released = sdk.numbers.release(canadian.id)
    assert released["success"] is True and released["status"] == "released"
    assert sdk.numbers.get(canadian.id).status == "released"
    assert [n.id for n in sdk.numbers.list().data] == [number.id]


def test_webhooks(sdk: AgentPhone) -> None:
    assert sdk.webhooks.get() is None
    hook = sdk.webhooks.set("https://example.com/hook", context_limit=7, timeout=15)
    assert isinstance(hook, Webhook)
    assert hook.id.startswith("wh_") and hook.secret.startswith("whsec_") and hook.status == "active"
    assert (hook.url, hook.context_limit, hook.timeout) == ("https://example.com/hook", 7, 15)
    assert ISO_MS.match(hook.created_at)
    assert sdk.webhooks.get() == hook
    again = sdk.webhooks.set("https://example.com/other")
    assert again.id == hook.id and again.secret != hook.secret
    assert sdk.webhooks.delete()["success"] is True
    assert sdk.webhooks.get() is None

    agent = sdk.agents.create(name="Hooked")
    assert sdk.agents.get_webhook(agent.id) is None
    own = sdk.agents.set_webhook(agent.id, "http://127.0.0.1:9/x", context_limit=0)
    assert own.url == "http://127.0.0.1:9/x" and own.context_limit == 0 and own.timeout == 30
    assert sdk.agents.get_webhook(agent.id) == own
    assert sdk.agents.delete_webhook(agent.id)["success"] is True
    assert sdk.agents.get_webhook(agent.id) is None


@pytest.mark.usefixtures("upgraded")
def test_usage(sdk: AgentPhone, api: httpx.Client, control: httpx.Client) -> None:
    agent = sdk.agents.create(name="Caller")
    sdk.numbers.buy(agent_id=agent.id)
    hosted_call(api, control, agent.id)
    usage = sdk.usage.get()
    assert isinstance(usage, Usage)
    assert usage.numbers.used == 1 and usage.numbers.limit == 100 and usage.numbers.remaining == 99
    assert usage.stats.total_calls == 1 and usage.stats.calls_last_24h == 1
    assert usage.stats.total_messages == 0
    assert ISO_MS.match(usage.period_start) and ISO_MS.match(usage.period_end)

    daily = sdk.usage.get_daily(days=7)
    assert isinstance(daily, DailyUsage)
    assert daily.days == 7 and len(daily.data) == 7
    assert sum(p.calls for p in daily.data) == 1 and daily.data[-1].calls == 1

    monthly = sdk.usage.get_monthly(months=3)
    assert isinstance(monthly, MonthlyUsage)
    assert monthly.months == 3 and len(monthly.data) == 3
    assert monthly.data[-1].calls == 1


@pytest.mark.usefixtures("upgraded")
def test_calls_and_conversations(sdk: AgentPhone, api: httpx.Client, control: httpx.Client,
                                 voice: WebhookReceiver) -> None:
    agent = sdk.agents.create(name="Talker")
    number = sdk.numbers.buy(agent_id=agent.id)
    voice.secret = sdk.agents.set_webhook(agent.id, voice.url).secret
    voice.when("Hi there", say("Hello! How can I help?")).when("Bye", say(""))
    placed = ok(control.post("/_emulator/calls/inbound", json={
        "from": "+16175550100", "to": number.phone_number, "turns": [{"say": "Hi there"}, {"say": "Bye"}]}))
    ended = wait_ended(api, placed["id"])
    call_id = ended["id"]

    listed = sdk.calls.list(status="completed", direction="inbound", search="617")
    assert [c.id for c in listed.data] == [call_id] and listed.total == 1
    assert sdk.calls.list(direction="outbound").data == []

    call = sdk.calls.get(call_id)
    assert isinstance(call, Call)
    assert (call.from_number, call.to_number, call.direction, call.status) == (
        "+16175550100", number.phone_number, "inbound", "completed")
    assert call.agent_id == agent.id and call.agent_name == "Talker" and call.phone_number_id == number.id
    assert [(t.transcript, t.response) for t in call.transcripts] == [
        ("Hi there", "Hello! How can I help?"), ("Bye", None)]
    assert call.duration_seconds == ended["durationSeconds"] > 0 and call.recording_available is False

    transcript = sdk.calls.get_transcript(call_id)
    assert [t["transcript"] for t in transcript["data"]] == ["Hi there", "Bye"]

    conv = sms_in(control, "+16175550100", number.phone_number, "first")["conversationId"]
    tick(control, sdk.messages.send(agent.id, "+16175550100", "second")["message"]["receivedAt"])
    sms_in(control, "+16175550100", number.phone_number, "third")

    conversations = sdk.conversations.list()
    assert [c.id for c in conversations.data] == [conv] and conversations.total == 1
    assert conversations.data[0].message_count == 3 and conversations.data[0].last_message_preview == "third"

    detail = sdk.conversations.get(conv, message_limit=2)
    assert isinstance(detail, Conversation)
    assert detail.participant == "+16175550100" and detail.phone_number == number.phone_number
    assert detail.agent_id == agent.id
    assert [m.body for m in detail.messages] == ["third", "second"]
    assert detail.messages[1].from_number == number.phone_number and detail.messages[1].direction == "outbound"
    assert detail.messages[0].to_number == number.phone_number
    assert len(sdk.conversations.get(conv).messages) == 3


def test_errors_map_to_sdk_exceptions(sdk: AgentPhone, base_url: str) -> None:
    with pytest.raises(NotFoundError) as missing:
        sdk.agents.get("agent_nope")
    assert missing.value.status == 404
    assert "agent_nope" in missing.value.message
    with pytest.raises(NotFoundError):
        sdk.calls.get("call_nope")
    with pytest.raises(NotFoundError):
        sdk.webhooks.delete()

    with AgentPhone(api_key="not-a-valid-key", base_url=base_url, timeout=10) as bad:
        with pytest.raises(AuthenticationError) as denied:
            bad.agents.list()
    assert denied.value.status == 401
    assert denied.value.message


def test_async_client(base_url: str, key: str) -> None:
    async def scenario() -> None:
        async with AsyncAgentPhone(api_key=key, base_url=base_url, timeout=10) as client:
            agent = await client.agents.create(name="Async Agent", voice="alloy")
            assert agent.id.startswith("agent_") and agent.voice == "alloy" and agent.voice_mode == "webhook"
            assert (await client.agents.get(agent.id)).name == "Async Agent"
            updated = await client.agents.update(agent.id, description="async")
            assert updated.description == "async" and updated.voice == "alloy"
            number = await client.numbers.buy(agent_id=agent.id)
            assert number.agent_id == agent.id
            assert [n.id for n in (await client.agents.get(agent.id)).numbers] == [number.id]
            listed = await client.numbers.list()
            assert [n.id for n in listed.data] == [number.id]
            hook = await client.webhooks.set("https://example.com/async")
            assert (await client.webhooks.get()) == hook
            messages = await client.numbers.get_messages(number.id)
            assert messages.data == [] and messages.has_more is False
            assert (await client.calls.list()).total == 0
            usage = await client.usage.get()
            assert usage.numbers.used == 1
            deleted = await client.agents.delete(agent.id)
            assert deleted["unassignedNumbers"] == [number.id]
            with pytest.raises(NotFoundError):
                await client.agents.get(agent.id)
        async with AsyncAgentPhone(api_key="sk_nope", base_url=base_url, timeout=10) as bad:
            with pytest.raises(AuthenticationError):
                await bad.agents.list()

    asyncio.run(scenario())
