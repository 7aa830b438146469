"""The call engine on its own: a real store (SQLite in a temp dir), fake webhook transports, no HTTP server.

Every test is a plain function that drives its coroutine with `asyncio.run`. The agent's side of a
voice turn is a fake voice sender (the deliverer's `voice`) that records the `TurnRequest`s it was
given and answers with scripted `TurnReply` objects (folded from reply objects by `replies.apply`, as
the NDJSON reader does); call events (`call.started`, `call.ended`) go through the real `Deliverer` into a fake
transport that records what it was sent. The deliverer speaks the skill doc's vocabulary here (the current one's
`agent.call_ended` is tested in tests/test_events_vocabulary.py).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, cast

import pytest
from sqlalchemy import select

from emulator import ids
from emulator.api.common import status_of
from emulator.calls import engine as engine_module
from emulator.calls import timing
from emulator.calls.bus import CallBus, EndedEvent, Event, TurnEvent
from emulator.calls.callees import MAGIC_NUMBERS, Callee, CalleeBook, generated_callee
from emulator.calls.engine import CallEngine, CallRun
from emulator.calls.hosted import HostedContext, RuleResponder, fill
from emulator.calls.script import MAX_TURNS, Turn, branch_for, parse_turns
from emulator.calls.setup import CallSetup
from emulator.clock import Clock, iso
from emulator.domain import dialing
from emulator.errors import Invalid
from emulator.store import Account, Agent, Call, Delivery, DeliveryAttempt, PhoneNumber, Store, Transcript, Webhook
from emulator.webhooks import signing
from emulator.webhooks.delivery import NO_WEBHOOK, Deliverer, VoiceSender
from emulator.webhooks.transport import RESPONSE_LIMIT, Outcome, Transport
from emulator.webhooks.voice import TurnReply, TurnRequest, apply, webhook_turn
from emulator.wire.calls import PlaceCall
from emulator.wire.calls import transcript as render_transcript

OUR_NUMBER = "+14155550100"
CALLEE = "+14155550142"
TRANSFER_TO = "+14155550199"
HOOK_URL = "https://agent.example.test/voice"


# --- fakes --------------------------------------------------------------------------------------------------------


@dataclass
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]
    timeout: float

    @property
    def payload(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.body))


class FakeTransport:
    """Stands in for `webhooks.transport.Transport` in the deliverer: records each POST, answers 200."""

    def __init__(self, log: list[str] | None = None) -> None:
        self.sent: list[Sent] = []
        self.closed = False
        self.log = log if log is not None else []

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
        self.sent.append(Sent(url, body, headers, timeout))
        self.log.append(json.loads(body)["event"])
        return Outcome(True, 200, None, b'{"received":true}', 0.25, "application/json")

    async def close(self) -> None:
        self.closed = True

    def events(self, name: str) -> list[dict[str, Any]]:
        return [s.payload for s in self.sent if s.payload["event"] == name]


def reply(*objs: Any) -> TurnReply:
    """The TurnReply a streamed answer made of these reply objects gives (stops at the closing one)."""
    out = TurnReply(http_status=200)
    for i, obj in enumerate(objs):
        if apply(out, obj, float(i + 1)):
            break
    out.latency_ms = float(len(objs))
    out.body = json.dumps(objs[0]) if len(objs) == 1 else None
    return out


class ScriptedAgent:
    """A fake voice sender: answers each turn with the next scripted reply (then with silence)."""

    def __init__(self, *replies: TurnReply | dict[str, Any], log: list[str] | None = None) -> None:
        self.replies: deque[TurnReply | dict[str, Any]] = deque(replies)
        self.requests: list[TurnRequest] = []
        self.log = log if log is not None else []

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [cast(dict[str, Any], json.loads(r.body)) for r in self.requests]

    async def __call__(self, request: TurnRequest) -> TurnReply:
        self.requests.append(request)
        self.log.append("agent.message")
        nxt: TurnReply | dict[str, Any] = self.replies.popleft() if self.replies else {}
        return nxt if isinstance(nxt, TurnReply) else reply(nxt)


class FakeResponse:
    """Just what `webhook_turn` reads of an httpx streamed response."""

    def __init__(self, status: int, content_type: str, chunks: list[bytes]) -> None:
        self.status_code = status
        self.headers = {"content-type": content_type}
        self._chunks = chunks
        self.read = 0

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            self.read += 1
            yield chunk


class StreamingTransport:
    """Stands in for `Transport.stream`, so the real reply reader (`webhook_turn`) runs without a socket."""

    def __init__(self, *answers: tuple[int, str, list[bytes]], stall: bool = False) -> None:
        self.answers = deque(answers)
        self.stall = stall
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []
        self.responses: list[FakeResponse] = []

    @asynccontextmanager
    async def stream(self, url: str, body: bytes, headers: dict[str, str]) -> AsyncIterator[FakeResponse]:
        self.requests.append((url, body, headers))
        if self.stall:
            await asyncio.sleep(3600)
        status, content_type, chunks = self.answers.popleft() if self.answers else (200, "application/json", [b"{}"])
        response = FakeResponse(status, content_type, chunks)
        self.responses.append(response)
        yield response


def ndjson(*objs: Any) -> tuple[int, str, list[bytes]]:
    return 200, "application/x-ndjson", [json.dumps(o).encode() + b"\n" for o in objs]


# --- a small world: account, agent, number, webhook, engine -------------------------------------------------------


@dataclass
class World:
    store: Store
    clock: Clock
    transport: FakeTransport
    deliverer: Deliverer
    bus: CallBus
    engine: CallEngine
    agent: Agent
    account: Account
    number: PhoneNumber
    hook: Webhook | None
    log: list[str] = field(default_factory=list)

    async def place(self, callee: Callee | list[dict[str, Any]], to: str = CALLEE, **fields: Any) -> CallSetup:
        """An outbound call through the real dialing rules; returns what the engine runs."""
        if not isinstance(callee, Callee):
            callee = Callee(parse_turns(callee), "script")
        req = PlaceCall.model_validate({"agentId": self.agent.id, "toNumber": to, **fields})
        async with self.store.write() as session:
            placed = await dialing.place(session, self.account.id, req, self.clock.now())
        return CallSetup.of(placed.call, placed.agent, placed.hook, callee)

    async def dial_in(self, turns: list[dict[str, Any]], sender: str = CALLEE) -> CallSetup:
        async with self.store.write() as session:
            placed = await dialing.inbound(session, sender, OUR_NUMBER, self.clock.now())
        return CallSetup.of(placed.call, placed.agent, placed.hook, Callee(parse_turns(turns), "inbound"))

    async def run(self, setup: CallSetup) -> CallRun:
        run = CallRun(setup, await self.started_at(setup.call_id))
        await self.engine.run(run)
        await self.deliverer.drain()
        return run

    async def call(self, callee: Callee | list[dict[str, Any]], **fields: Any) -> CallRun:
        return await self.run(await self.place(callee, **fields))

    async def started_at(self, call_id: str) -> datetime:
        return (await self.call_row(call_id)).started_at

    async def call_row(self, call_id: str) -> Call:
        async with self.store.read() as session:
            row = await session.scalar(select(Call).where(Call.id == call_id))
        assert row is not None
        return row

    async def rows(self, call_id: str) -> list[Transcript]:
        async with self.store.read() as session:
            result = await session.execute(select(Transcript).where(Transcript.call_id == call_id)
                                           .order_by(Transcript.pk))
            return list(result.scalars())

    async def deliveries(self, event: str | None = None) -> list[Delivery]:
        async with self.store.read() as session:
            query = select(Delivery).order_by(Delivery.pk)
            if event is not None:
                query = query.where(Delivery.event_type == event)
            return list((await session.execute(query)).scalars())


@asynccontextmanager
async def world(*, agent: dict[str, Any] | None = None, hook: dict[str, Any] | None = None, webhook: bool = True,
                voice: VoiceSender | None = None, recording: bool = False, realtime: bool = False,
                ) -> AsyncIterator[World]:
    store = Store(":memory:")
    await store.start()
    clock = Clock()
    log: list[str] = []
    transport = FakeTransport(log)
    voice_turn = voice or ScriptedAgent(log=log)
    if isinstance(voice_turn, ScriptedAgent):
        voice_turn.log = log
    deliverer = Deliverer(store, clock, cast(Transport, transport), voice=voice_turn, vocabulary="skill-doc")
    bus = CallBus()
    engine = CallEngine(store, clock, deliverer, bus, realtime=realtime)
    now = clock.now()
    account = Account(id=ids.new_id("acct"), key=ids.new_id("sk_test"), plan="scale", balance_cents=100_000,
                      recording_enabled=recording, numbers_bought=1, created_at=now)
    agent_row = Agent(
        id=ids.new_id("agent"), account_id=account.id, name="Unit agent", description=None,
        voice_mode="webhook", system_prompt=None, begin_message=None, voice="alloy", model_tier="balanced",
        enable_messaging=True, transfer_number=None, custom_tools=None, voicemail_message=None,
        call_screening_identity=None, call_screening_purpose=None, stt_mode="fast", ambient_sound="none",
        denoising_mode="noise-cancellation", max_silence_ms=600_000, voice_speed=1.0,
        interruption_sensitivity=0.8, enable_backchannel=True, language="en-US", created_at=now, updated_at=now,
    )
    for name, value in (agent or {}).items():
        setattr(agent_row, name, value)
    number = PhoneNumber(id=ids.new_id("pn"), account_id=account.id, agent_id=agent_row.id,
                         phone_number=OUR_NUMBER, country="US", status="active", type="sms", attached_at=now,
                         created_at=now)
    hook_row = None
    if webhook:
        hook_row = Webhook(id=ids.new_id("wh"), account_id=account.id, agent_id=None, url=HOOK_URL,
                           secret=ids.new_secret(), status="active", context_limit=10, timeout=30,
                           created_at=now, updated_at=now)
        for name, value in (hook or {}).items():
            setattr(hook_row, name, value)
    async with store.write() as session:
        session.add_all([r for r in (account, agent_row, number, hook_row) if r is not None])
    try:
        yield World(store, clock, transport, deliverer, bus, engine, agent_row, account, number, hook_row, log)
    finally:
        await engine.close()
        await deliverer.close()
        await store.close()


def scripted(w: World) -> ScriptedAgent:
    return cast(ScriptedAgent, w.deliverer.voice)


def speech(text: str, speed: float = 1.0) -> Fraction:
    """Exact simulated seconds for saying `text` (the engine's rule, in exact arithmetic)."""
    words = len(text.split())
    if not words:
        return Fraction(0)
    return Fraction(words) / (Fraction(timing.WORDS_PER_SECOND) * Fraction(speed)) + Fraction(timing.PAUSE_SECONDS)


def dtmf(digits: str) -> Fraction:
    return len(digits) * Fraction(3, 10) + Fraction(1, 2)


def run_async(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())  # type: ignore[arg-type]


# --- a whole conversation ------------------------------------------------------------------------------------------

GREETING = "Hello, this is Acme dental. How can I help?"


def test_greeting_and_every_kind_of_turn_are_recorded_word_for_word() -> None:
    turns = [
        {"say": "I need to move my cleaning to Friday."},
        {"press": "1#"},
        {"silence": 2},
        {"say": "Thanks, that is all."},
        {"hangup": True},
    ]

    async def main() -> None:
        async with world(agent={"begin_message": GREETING}) as w:
            scripted(w).replies.extend([
                {"text": "Sure, Friday at ten works."},
                {"text": "You pressed one.", "digits": "2"},
                {"text": "Goodbye!"},
            ])
            setup = await w.place(turns)
            queue = w.bus.subscribe(setup.call_id)
            run = await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)
            published: list[Event] = []
            while not queue.empty():
                published.append(queue.get_nowait())

        assert [(r.kind, r.transcript, r.response) for r in rows] == [
            ("greeting", "", GREETING),
            ("speech", "I need to move my cleaning to Friday.", "Sure, Friday at ten works."),
            ("dtmf", "[DTMF 1#]", "You pressed one."),
            ("silence", "[silence 2s]", None),
            ("speech", "Thanks, that is all.", "Goodbye!"),
            ("hangup", "[caller hung up]", None),
        ]
        assert [r.confidence for r in rows] == [None, 0.95, 1.0, None, 0.95, None]
        assert rows[0].details is None
        assert rows[1].details is not None and rows[1].details["chunks"] == ["Sure, Friday at ten works."]
        assert rows[1].details["turn"] == "turns[0]"
        assert rows[2].details is not None
        assert rows[2].details["callerDigits"] == "1#" and rows[2].details["digits"] == "2"
        assert rows[3].details == {"seconds": 2.0, "turn": "turns[2]"}
        assert rows[5].details == {"turn": "turns[4]"}
        assert (call.status, call.end_reason) == ("completed", "caller-hangup")
        assert (run.status, run.end_reason) == ("completed", "caller-hangup")
        # the snippet is the last thing said (silence and hangup rows do not count)
        assert call.last_transcript_snippet == "Goodbye!"
        # the bus saw every row, in order, then the end
        assert [type(event) for event in published] == [TurnEvent] * 6 + [EndedEvent]
        assert [event.row.id for event in published[:-1] if isinstance(event, TurnEvent)] == [r.id for r in rows]
        assert published[-1] == EndedEvent(setup.call_id, "completed", call.duration_seconds or 0, "caller-hangup")

    run_async(main)


def test_voice_turn_payload_and_delivery_rows() -> None:
    async def main() -> None:
        async with world(agent={"begin_message": GREETING}) as w:
            scripted(w).replies.extend([{"text": "Hi."}, {"text": "Pressed."}])
            setup = await w.place([{"say": "Is anyone there?"}, {"press": "42"}])
            await w.run(setup)
            agent = scripted(w)
            voice = await w.deliveries("agent.message")
            assert w.hook is not None
            hook = w.hook

        assert len(agent.requests) == 2
        first, second = agent.payloads
        assert first["event"] == "agent.message" and first["channel"] == "voice"
        assert first["agentId"] == w.agent.id
        assert first["data"] == {"callId": setup.call_id, "numberId": setup.phone_number_id,
                                 "transcript": "Is anyone there?", "confidence": 0.95, "from": OUR_NUMBER, "to": CALLEE,
                                 "direction": "outbound", "status": "in-progress"}
        assert second["data"]["transcript"] == "" and second["data"]["digits"] == "42"
        assert second["data"]["confidence"] == 1.0
        assert first["conversationState"] is None
        for request, row in zip(agent.requests, voice, strict=True):
            assert (request.url, request.secret, request.timeout) == (HOOK_URL, hook.secret, hook.timeout)
            assert request.delivery_id == row.id
            assert request.body == row.payload.encode()
            assert request.cut_after_first is False
            assert (row.status, row.attempt_count, row.http_status) == ("success", 1, 200)
            assert (row.channel, row.webhook_id, row.url, row.message_id) == ("voice", hook.id, HOOK_URL,
                                                                              setup.call_id)
            assert row.error_message is None and row.last_attempt_at is not None

    run_async(main)


def test_a_live_calls_rows_written_mid_call_are_read_once_with_their_deliveries(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every turn flushes (no wait for a second): what a reader of the live call sees mid-call is each turn once,
    stored or not yet, with its voice delivery and the attempt tied to it; the call's snippet follows; after the
    end every row is stored exactly once."""
    monkeypatch.setattr(engine_module, "FLUSH_SECONDS", 0.0)
    seen: list[tuple[list[str], list[str], list[str], str | None]] = []

    async def main() -> None:
        async with world(agent={"begin_message": GREETING}) as w:
            agent = scripted(w)
            agent.replies.extend([{"text": "One."}, {"text": "Two."}, {"text": "Three."}])

            async def answer(request: TurnRequest) -> TurnReply:
                async with w.store.read() as session:
                    stored = list((await session.execute(select(Transcript).where(
                        Transcript.call_id == setup.call_id).order_by(Transcript.pk))).scalars())
                    tied = list((await session.execute(select(DeliveryAttempt.turn_id).order_by(
                        DeliveryAttempt.pk))).scalars())
                live = [r.id for r in w.engine.unsaved(setup.call_id) if r.id not in {s.id for s in stored}]
                seen.append(([r.id for r in stored] + live, [r.response or "" for r in stored],
                             [t or "" for t in tied], (await w.call_row(setup.call_id)).last_transcript_snippet))
                return await agent(request)

            w.deliverer.voice = answer
            setup = await w.place([{"say": "First."}, {"say": "Second."}, {"say": "Third."}])
            run = await w.run(setup)
            rows = await w.rows(setup.call_id)
            voice = await w.deliveries("agent.message")
            async with w.store.read() as session:
                attempts = list((await session.execute(select(DeliveryAttempt).order_by(DeliveryAttempt.pk)))
                                .scalars())

        assert [r.id for r in rows] == [r.id for r in run.rows] and len(rows) == 4  # the greeting and three turns
        assert [r.response for r in rows] == [GREETING, "One.", "Two.", "Three."]
        # Asked on turn n, the reader sees the greeting and the n-1 turns before, all stored, each attempt tied.
        for n, (ids_seen, responses, tied, snippet) in enumerate(seen):
            assert ids_seen == [r.id for r in rows[:n + 1]]
            assert responses == [GREETING, "One.", "Two.", "Three."][:n + 1]
            assert tied == [r.id for r in rows[1:n + 1]]
            assert snippet == [GREETING, "One.", "Two."][n]
        assert [(d.status, d.attempt_count) for d in voice] == [("success", 1)] * 3
        voice_ids = {d.id for d in voice}
        assert [(a.delivery_id, a.turn_id, a.number) for a in attempts if a.delivery_id in voice_ids] == [
            (d.id, r.id, 1) for d, r in zip(voice, rows[1:], strict=True)]
        assert rows[-1].details is not None and rows[-1].details["chunks"] == ["Three."]

    run_async(main)


def test_inbound_call_starts_with_call_started_before_any_turn() -> None:
    async def main() -> None:
        async with world(agent={"begin_message": GREETING}) as w:
            scripted(w).replies.append({"text": "Of course."})
            setup = await w.dial_in([{"say": "Can I book a visit?"}])
            await w.run(setup)
            started = w.transport.events("call.started")
            payload = scripted(w).payloads[0]

        assert w.log == ["call.started", "agent.message", "call.ended"]
        assert started[0]["data"]["direction"] == "inbound" and started[0]["data"]["status"] == "in-progress"
        assert started[0]["data"]["from"] == CALLEE and started[0]["data"]["to"] == OUR_NUMBER
        assert payload["data"]["direction"] == "inbound"
        assert (payload["data"]["from"], payload["data"]["to"]) == (CALLEE, OUR_NUMBER)

    run_async(main)


# --- recentHistory -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, 1, 3, 50])
def test_recent_history_is_bounded_by_the_hooks_context_limit(limit: int) -> None:
    said = ["One.", "Two.", "Three."]
    answered = ["Ack one.", "Ack two.", "Ack three."]

    async def main() -> None:
        async with world(agent={"begin_message": "Hi."}, hook={"context_limit": limit}) as w:
            scripted(w).replies.extend({"text": a} for a in answered)
            await w.call([{"say": s} for s in said])
            payloads = scripted(w).payloads

        full: list[tuple[str, str]] = [("Hi.", "outbound")]
        for i, payload in enumerate(payloads):
            full.append((said[i], "inbound"))
            expected = full[-limit:] if limit else []
            history = payload["recentHistory"]
            assert [(h["content"], h["direction"]) for h in history] == expected
            assert all(h["channel"] == "voice" for h in history)
            full.append((answered[i], "outbound"))

    run_async(main)


def test_history_times_follow_simulated_speech() -> None:
    async def main() -> None:
        async with world(agent={"begin_message": "Hello there."}) as w:
            scripted(w).replies.append({"text": "Fine, thanks."})
            setup = await w.place([{"say": "How are you today?"}, {"say": "Good."}])
            await w.run(setup)
            started = await w.started_at(setup.call_id)
            history = scripted(w).payloads[1]["recentHistory"]

        greeting_end = speech("Hello there.")
        caller_end = greeting_end + speech("How are you today?")
        expected = [started, started + timedelta(seconds=float(greeting_end)),
                    started + timedelta(seconds=float(caller_end)),
                    started + timedelta(seconds=float(caller_end + speech("Fine, thanks.")))]
        assert [h["at"] for h in history] == [iso(t) for t in expected]

    run_async(main)


# --- IVR menus -----------------------------------------------------------------------------------------------------

MENU: list[dict[str, Any]] = [
    {"say": "I would like the main menu."},
    {"on_digits": {
        "1": [{"say": "Billing, please."}],
        "2": [{"say": "Support, please."}, {"on_digits": {"3": [{"say": "Deep support."}]}}],
        "12": [{"say": "Twelve exactly."}],
        "default": [{"say": "An operator, please."}],
    }},
    {"say": "Done."},
]


@pytest.mark.parametrize(("pressed", "path"), [
    ({"digits": "1"}, ["turns[1].on_digits.1[0]"]),
    ({"press_digit": "12"}, ["turns[1].on_digits.12[0]"]),
    ({"dtmf": "19"}, ["turns[1].on_digits.1[0]"]),  # no exact match: the first digit
    ({"digits": 7}, ["turns[1].on_digits.default[0]"]),
    ({}, ["turns[1].on_digits.default[0]"]),  # the agent pressed nothing
])
def test_ivr_branch_follows_the_digits_the_agent_pressed(pressed: dict[str, Any], path: list[str]) -> None:
    async def main() -> None:
        async with world() as w:
            scripted(w).replies.append({"text": "Let me choose.", **pressed})
            setup = await w.place(MENU)
            await w.run(setup)
            rows = await w.rows(setup.call_id)

        speech_rows = [r for r in rows if r.kind == "speech"]
        assert [(r.details or {}).get("turn") for r in speech_rows] == ["turns[0]", *path, "turns[2]"]

    run_async(main)


def test_nested_menu_and_a_menu_with_no_match_is_skipped() -> None:
    async def main() -> None:
        async with world() as w:
            scripted(w).replies.extend([{"text": "Two.", "digits": "2"}, {"text": "Three.", "digits": "3"},
                                        {"text": "Nothing.", "digits": "9"}])
            setup = await w.place(MENU[:2] + [{"on_digits": {"1": [{"say": "Never heard."}]}}, {"say": "End."}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)

        assert [r.transcript for r in rows if r.kind == "speech"] == [
            "I would like the main menu.", "Support, please.", "Deep support.", "End.",
        ]

    run_async(main)


def test_a_menu_follows_only_the_latest_reply_not_older_digits() -> None:
    async def main() -> None:
        async with world() as w:
            scripted(w).replies.extend([{"text": "One.", "digits": "1"}, {"text": "No keys this time."}])
            setup = await w.place([{"say": "First prompt."}, {"say": "Second prompt."},
                                   {"on_digits": {"1": [{"say": "Stale branch."}], "default": [{"say": "Default."}]}}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)

        assert [r.transcript for r in rows if r.kind == "speech"] == ["First prompt.", "Second prompt.", "Default."]

    run_async(main)


def test_agent_digits_that_are_not_keypad_digits_are_refused() -> None:
    async def main() -> None:
        async with world() as w:
            scripted(w).replies.append({"text": "Pressing.", "digits": "hello"})
            setup = await w.place([{"say": "Press a key."}, {"on_digits": {"default": [{"say": "Default."}]}}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)

        first = rows[0]
        assert "digits" not in (first.details or {})
        assert "not keypad digits" in first.details["error"]
        assert [r.transcript for r in rows if r.kind == "speech"] == ["Press a key.", "Default."]

    run_async(main)


def test_voice_payload_timestamp_is_the_calls_simulated_time() -> None:
    async def main() -> None:
        async with world(agent={"begin_message": "One two three four five six seven eight nine ten."}) as w:
            scripted(w).replies.append({"text": "Hi."})
            setup = await w.place([{"say": "Hello there."}])
            await w.run(setup)
            payload = json.loads(scripted(w).requests[0].body)

        assert payload["timestamp"] >= payload["recentHistory"][-1]["at"]

    run_async(main)


def test_branch_for_prefers_exact_then_first_digit_then_default() -> None:
    menu = parse_turns([{"on_digits": {"1": [{"say": "a"}], "12": [{"say": "b"}], "default": [{"hangup": True}]}}])[0]
    assert branch_for(menu, "12") == menu.branches["12"]
    assert branch_for(menu, "13") == menu.branches["1"]
    assert branch_for(menu, "4") == menu.branches["default"]
    assert branch_for(menu, "") == menu.branches["default"]
    assert branch_for(parse_turns([{"on_digits": {"1": [{"say": "a"}]}}])[0], "2") is None


# --- barge-in ------------------------------------------------------------------------------------------------------


def test_interrupt_sets_cut_after_first_on_the_turn_it_interrupts() -> None:
    async def main() -> None:
        async with world() as w:
            await w.call([{"say": "What are your hours?"}, {"say": "Wait, on Sunday?", "interrupt": True},
                          {"say": "Thanks."}, {"press": "1"}, {"say": "Bye.", "interrupt": True}])
            flags = [r.cut_after_first for r in scripted(w).requests]

        # a barge-in cuts the reply to the turn *before* the interrupting one; a press before it also counts
        assert flags == [True, False, False, True, False]

    run_async(main)


def test_barge_in_keeps_only_the_first_spoken_chunk() -> None:
    stream = StreamingTransport(
        ndjson({"text": "We open at nine.", "interim": True}, {"text": "We close at five.", "interim": True},
               {"text": "Anything else?"}),
        ndjson({"text": "Yes,", "interim": True}, {"text": "Sunday too."}),
    )

    async def voice(request: TurnRequest) -> TurnReply:
        return await webhook_turn(cast(Transport, stream), request)

    async def main() -> None:
        async with world(voice=voice) as w:
            setup = await w.place([{"say": "What are your hours?"}, {"say": "On Sunday?", "interrupt": True}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)
            voice_rows = await w.deliveries("agent.message")

        cut, full = rows[0], rows[1]
        assert cut.response == "We open at nine."
        assert cut.details is not None and cut.details["interrupted"] is True
        assert cut.details["chunks"] == ["We open at nine."]
        assert "finalChunkMs" not in cut.details  # the turn never closed: the caller cut in
        assert stream.responses[0].read == 1  # and nothing after the first line was read
        assert full.response == "Yes, Sunday too."
        assert full.details is not None and "interrupted" not in full.details
        assert full.details["chunks"] == ["Yes,", "Sunday too."]
        assert [d.status for d in voice_rows] == ["success", "success"]
        # the body sent is the one logged, signed with the hook's secret
        url, body, headers = stream.requests[0]
        assert w.hook is not None and url == HOOK_URL and body == voice_rows[0].payload.encode()
        assert headers["X-Webhook-Signature"] == signing.signature(w.hook.secret, headers["X-Webhook-Timestamp"],
                                                                   body)

    run_async(main)


# --- the agent ends or transfers the call --------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [{"hangup": True}, {"action": "hangup"}])
def test_agent_hangup_ends_the_call_after_its_words(ending: dict[str, Any]) -> None:
    async def main() -> None:
        async with world() as w:
            scripted(w).replies.append({"text": "Goodbye now.", **ending})
            setup = await w.place([{"say": "Hi."}, {"say": "Never said."}])
            run = await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)

        assert [r.transcript for r in rows] == ["Hi."]
        assert rows[0].response == "Goodbye now."
        assert rows[0].details is not None and rows[0].details["hangup"] is True
        assert (call.status, call.end_reason) == ("completed", "agent-hangup")
        assert len(scripted(w).requests) == 1
        # the goodbye is still spoken: it counts in the call's time
        assert run.elapsed == pytest.approx(float(speech("Hi.") + speech("Goodbye now.")))

    run_async(main)


def test_transfer_with_a_transfer_number_ends_the_call_as_transferred() -> None:
    async def main() -> None:
        async with world(agent={"transfer_number": TRANSFER_TO}) as w:
            scripted(w).replies.append({"text": "Transferring you.", "action": "transfer"})
            setup = await w.place([{"say": "A person, please."}, {"say": "Never said."}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)
            ended = w.transport.events("call.ended")[0]["data"]

        assert len(rows) == 1
        assert rows[0].details is not None
        assert rows[0].details["action"] == "transfer" and rows[0].details["transferredTo"] == TRANSFER_TO
        assert "hangup" not in rows[0].details
        assert (call.status, call.end_reason) == ("completed", "transferred")
        assert call.call_metadata == {"transferredTo": TRANSFER_TO}
        assert ended["transferredTo"] == TRANSFER_TO and ended["endReason"] == "transferred"

    run_async(main)


def test_transfer_without_a_transfer_number_goes_on() -> None:
    async def main() -> None:
        async with world() as w:
            scripted(w).replies.extend([{"text": "Transferring you.", "action": "transfer"}, {"text": "Still here."}])
            setup = await w.place([{"say": "A person, please."}, {"say": "Hello?"}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)

        assert [r.response for r in rows] == ["Transferring you.", "Still here."]
        assert rows[0].details is not None and "transferNumber" in rows[0].details["error"]
        assert "transferredTo" not in rows[0].details
        assert (call.status, call.end_reason) == ("completed", "caller-finished")
        assert call.call_metadata is None

    run_async(main)


# --- silence -------------------------------------------------------------------------------------------------------


def test_silence_timeout_ends_the_call_at_max_silence_ms() -> None:
    async def main() -> None:
        async with world(agent={"max_silence_ms": 3000}) as w:
            setup = await w.place([{"silence": 2}, {"silence": 1.5}, {"say": "Never said."}])
            run = await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)

        # The line goes dead at the limit: the second silence is cut to the 1 s that was left.
        assert [r.transcript for r in rows] == ["[silence 2s]", "[silence 1s]"]
        assert (call.status, call.end_reason) == ("completed", "silence-timeout")
        assert scripted(w).requests == []
        assert run.elapsed == 3.0

    run_async(main)


def test_speech_between_silences_resets_the_silence_count() -> None:
    async def main() -> None:
        async with world(agent={"max_silence_ms": 3000}) as w:
            setup = await w.place([{"silence": 2}, {"say": "Still here."}, {"silence": 2}, {"press": "5"},
                                   {"silence": 2.5}])
            await w.run(setup)
            call = await w.call_row(setup.call_id)

        assert call.end_reason == "caller-finished"

    run_async(main)


# --- hosted mode ---------------------------------------------------------------------------------------------------


def test_hosted_mode_fills_variables_and_hangs_up_on_goodbye() -> None:
    async def main() -> None:
        async with world(agent={"voice_mode": "hosted", "begin_message": "Hi {{name}}, this is {{ company }} "
                                "about {{topic}}."}) as w:
            setup = await w.place([{"say": "What is this about?"}, {"press": "3"}, {"say": "Okay, goodbye."},
                                   {"say": "Never said."}], variables={"name": "Ada", "company": "Acme"})
            await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)
            voice = await w.deliveries("agent.message")
            ended = w.transport.events("call.ended")

        assert [(r.kind, r.transcript, r.response) for r in rows] == [
            ("greeting", "", "Hi Ada, this is Acme about {{topic}}."),
            ("speech", "What is this about?", 'I heard you say "What is this about". How else can I help?'),
            ("dtmf", "[DTMF 3]", 'I heard you say "[DTMF 3]". How else can I help?'),
            ("speech", "Okay, goodbye.", "Thanks for calling. Goodbye!"),
        ]
        assert rows[3].details is not None and rows[3].details["hangup"] is True
        assert (call.status, call.end_reason) == ("completed", "agent-hangup")
        assert scripted(w).requests == [] and voice == []  # no webhook was asked
        assert len(ended) == 1

    run_async(main)


def test_a_system_prompt_makes_a_webhook_agents_call_hosted_and_the_greeting_wins() -> None:
    async def main() -> None:
        async with world(agent={"begin_message": "Not used.", "transfer_number": TRANSFER_TO}) as w:
            setup = await w.place([{"say": "Can I talk to a human?"}], systemPrompt="You are {{name}}'s helper.",
                                  initialGreeting="Hello {{name}}!", variables={"name": "Grace"})
            await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)

        assert setup.hosted
        assert rows[0].response == "Hello Grace!"
        assert rows[1].response == "Let me transfer you to a person now."
        assert (call.end_reason, call.call_metadata) == ("transferred", {"transferredTo": TRANSFER_TO})
        assert scripted(w).requests == []

    run_async(main)


def test_rule_responder() -> None:
    async def main() -> None:
        rules = RuleResponder()
        ctx = HostedContext("", "Hi {{who}}", None, {"who": "Lin"}, None)
        assert rules.greeting(ctx) == "Hi Lin"
        assert rules.greeting(HostedContext("", None, "Yo {{who}}", {"who": "Lin"})) == "Yo Lin"
        assert rules.greeting(HostedContext("", None, None)) is None
        bye = await rules.reply(ctx, "That's all, bye!", 1)
        assert (bye.text, bye.hangup, bye.transfer) == ("Thanks for calling. Goodbye!", True, False)
        human = await rules.reply(ctx, "Get me a representative", 1)
        assert human.transfer is False  # no transfer number: it just answers
        human = await rules.reply(HostedContext("", None, None, {}, TRANSFER_TO), "Get me a representative", 1)
        assert human.transfer is True and not human.hangup
        echo = await rules.reply(ctx, "  Where are you located?  ", 2)
        assert echo.text == 'I heard you say "Where are you located". How else can I help?'

    run_async(main)


def test_fill() -> None:
    assert fill(None, {"a": "1"}) is None
    assert fill("", {"a": "1"}) == ""
    assert fill("{{a}}-{{ a }}-{{b}}", {"a": "1"}) == "1-1-{{b}}"
    assert fill("{{first_name}} {{X9}}", {"first_name": "Ada", "X9": "x"}) == "Ada x"
    assert fill("{{ not valid }} {a} {{a", {"a": "1"}) == "{{ not valid }} {a} {{a"
    assert fill("{{a}}", {"a": "{{b}}", "b": "no"}) == "{{b}}"  # values are not filled again


# --- failures ------------------------------------------------------------------------------------------------------


def test_a_failed_reply_is_silence_with_a_failed_voice_delivery() -> None:
    failed = TurnReply(http_status=500, error="The webhook answered HTTP 500; the caller heard silence.",
                       body="boom", latency_ms=3.5)

    async def main() -> None:
        async with world() as w:
            scripted(w).replies.extend([failed, {"text": "Back again."}])
            setup = await w.place([{"say": "Hello?"}, {"say": "Anyone?"}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)
            voice = await w.deliveries("agent.message")
            call = await w.call_row(setup.call_id)

        assert rows[0].response is None
        assert rows[0].details is not None and rows[0].details["error"] == failed.error
        assert rows[1].response == "Back again."  # the call went on
        assert (voice[0].status, voice[0].http_status, voice[0].error_message) == ("failed", 500, failed.error)
        assert (voice[0].response_body, voice[0].latency_ms, voice[0].attempt_count) == ("boom", 3.5, 1)
        assert voice[1].status == "success"
        assert call.end_reason == "caller-finished"

    run_async(main)


def test_reply_reader_failures_become_errors() -> None:
    stream = StreamingTransport(
        (500, "text/plain", [b"boom"]),
        (200, "application/json", [b"not json"]),
        (200, "application/json", [b"[1, 2]"]),
        (200, "application/x-ndjson", [b'{"text": "First part.", "interim": true}\n{oops\n{"text": "never"}\n']),
        (200, "application/json", [b'{"text": "In two ', b'pieces."}']),
        (200, "application/x-ndjson", [b'{"text": "No newline at the end", "hangup": true}']),
    )
    request = TurnRequest(HOOK_URL, "whsec_x", 5, "dlv_x", b"{}")

    async def main() -> None:
        transport = cast(Transport, stream)
        http_500 = await webhook_turn(transport, request)
        assert (http_500.http_status, http_500.body) == (500, "boom")
        assert http_500.error is not None and "HTTP 500" in http_500.error
        assert (await webhook_turn(transport, request)).error == "The reply was not JSON; the caller heard silence."
        listed = await webhook_turn(transport, request)
        assert listed.error is not None and "JSON list" in listed.error
        broken = await webhook_turn(transport, request)
        assert broken.chunks == ["First part."] and broken.streamed
        assert broken.error is not None and broken.error.startswith("Malformed NDJSON line")
        whole = await webhook_turn(transport, request)
        assert whole.text == "In two pieces." and whole.ok and not whole.streamed
        tail = await webhook_turn(transport, request)
        assert tail.text == "No newline at the end" and tail.hangup and tail.final_ms is not None

    run_async(main)


def test_a_reply_that_never_comes_times_out() -> None:
    stream = StreamingTransport(stall=True)
    request = TurnRequest(HOOK_URL, "whsec_x", 0.05, "dlv_x", b"{}")

    async def main() -> None:
        late = await webhook_turn(cast(Transport, stream), request)
        assert late.error is not None and "No complete response within 0.05 s" in late.error
        assert late.chunks == [] and late.http_status is None

    run_async(main)


def test_without_a_webhook_an_inbound_call_records_undeliverable_events() -> None:
    async def main() -> None:
        async with world(webhook=False) as w:
            setup = await w.dial_in([{"say": "Hello?"}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)
            deliveries = await w.deliveries()

        assert rows[0].response is None
        assert rows[0].details is not None and "No webhook is configured" in rows[0].details["error"]
        assert [(d.event_type, d.status, d.attempt_count) for d in deliveries] == [
            ("call.started", "failed", 0), ("agent.message", "failed", 0), ("call.ended", "failed", 0),
        ]
        assert deliveries[0].error_message == NO_WEBHOOK and deliveries[1].url is None
        assert w.transport.sent == [] and scripted(w).requests == []

    run_async(main)


def test_a_crashing_voice_turn_fails_only_that_call() -> None:
    async def explode(request: TurnRequest) -> TurnReply:
        raise RuntimeError("bug in the agent fake")

    async def main() -> None:
        async with world(voice=explode) as w:
            setup = await w.place([{"say": "Hello?"}])
            await w.engine.start(setup, await w.started_at(setup.call_id))
            await w.deliverer.drain()
            call = await w.call_row(setup.call_id)
            ended = w.transport.events("call.ended")

        assert (call.status, call.end_reason) == ("failed", "emulator-error")
        assert ended[0]["data"]["status"] == "failed"
        assert setup.call_id not in w.engine.runs

    run_async(main)


# --- ending a call from outside ------------------------------------------------------------------------------------


def test_ending_a_call_while_the_agent_is_answering() -> None:
    asked = asyncio.Event()

    async def never(request: TurnRequest) -> TurnReply:
        asked.set()
        await asyncio.sleep(3600)
        return TurnReply()

    async def main() -> None:
        async with world(voice=never) as w:
            setup = await w.place([{"say": "Hello?"}, {"say": "Never said."}])
            task = w.engine.start(setup, await w.started_at(setup.call_id))
            await asyncio.wait_for(asked.wait(), 5)
            assert await w.engine.end(setup.call_id) is True
            await task
            assert await w.engine.end(setup.call_id) is False  # no longer running
            await w.deliverer.drain()
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)
            voice = await w.deliveries("agent.message")

        assert (call.status, call.end_reason) == ("completed", "ended-by-api")
        assert len(rows) == 1 and rows[0].response is None
        assert rows[0].details is not None and "ended while the agent was answering" in rows[0].details["error"]
        assert voice[0].status == "failed"
        assert w.transport.events("call.ended")[0]["data"]["endReason"] == "ended-by-api"

    run_async(main)


def test_shutdown_fails_running_calls_and_still_sends_call_ended() -> None:
    async def never(request: TurnRequest) -> TurnReply:
        await asyncio.sleep(3600)
        return TurnReply()

    async def main() -> None:
        async with world(voice=never) as w:
            setup = await w.place([{"say": "Hello?"}])
            task = w.engine.start(setup, await w.started_at(setup.call_id))
            await asyncio.sleep(0.05)
            await w.engine.close()
            await w.deliverer.drain()
            call = await w.call_row(setup.call_id)
            ended = w.transport.events("call.ended")

        assert task.cancelled()
        assert (call.status, call.end_reason) == ("failed", "emulator-shutdown")
        assert ended[0]["data"]["status"] == "failed" and ended[0]["data"]["endReason"] == "emulator-shutdown"

    run_async(main)


def test_end_in_realtime_mode_cuts_the_speech_short() -> None:
    async def main() -> None:
        async with world(agent={"begin_message": "One two three four five six seven eight nine ten."},
                         realtime=True) as w:
            setup = await w.place([{"say": "Hello?"}])
            task = w.engine.start(setup, await w.started_at(setup.call_id))
            await asyncio.sleep(0.05)  # the greeting is being spoken (4.5 s of speech)
            started = time.monotonic()
            assert await w.engine.end(setup.call_id, wait=2)
            waited = time.monotonic() - started
            await task
            call = await w.call_row(setup.call_id)
            rows = await w.rows(setup.call_id)

        assert waited < 1
        assert (call.status, call.end_reason) == ("completed", "ended-by-api")
        assert [r.kind for r in rows] == ["greeting"]  # the caller's turn never came
        # the call lasted as long as it really did, not the greeting's full 4.5 s
        assert call.ended_at is not None and (call.ended_at - call.started_at).total_seconds() < 1
        assert call.duration_seconds == 1

    run_async(main)


# --- call.ended and duration ---------------------------------------------------------------------------------------


def test_call_ended_is_delivered_with_the_transcript() -> None:
    async def main() -> None:
        async with world(agent={"begin_message": GREETING}, recording=True) as w:
            scripted(w).replies.extend([{"text": "Sure."}, {"text": "Bye!"}])
            setup = await w.place([{"say": "Book me in."}, {"say": "Thanks."}])
            await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)
            ended_rows = await w.deliveries("call.ended")
            sent = [s for s in w.transport.sent if s.payload["event"] == "call.ended"]
            assert w.hook is not None
            secret = w.hook.secret

        assert len(sent) == 1 and len(ended_rows) == 1
        body = sent[0].payload
        assert body["channel"] == "voice" and body["agentId"] == w.agent.id and body["recentHistory"] == []
        data = body["data"]
        assert data["transcript"] == [render_transcript(r) for r in rows]
        assert [t["transcript"] for t in data["transcript"]] == ["", "Book me in.", "Thanks."]
        assert [t["response"] for t in data["transcript"]] == [GREETING, "Sure.", "Bye!"]
        assert {k: data[k] for k in ("callId", "from", "to", "direction", "status", "numberId", "endReason")} == {
            "callId": setup.call_id, "from": OUR_NUMBER, "to": CALLEE, "direction": "outbound",
            "status": "completed", "numberId": w.number.id, "endReason": "caller-finished",
        }
        assert data["startedAt"] == iso(call.started_at) and data["endedAt"] == iso(call.ended_at)
        assert data["durationSeconds"] == call.duration_seconds
        assert call.recording_available is True
        assert (ended_rows[0].status, ended_rows[0].attempt_count) == ("success", 1)
        headers = sent[0].headers
        assert headers["X-Webhook-Event"] == "call.ended" and headers["X-Webhook-ID"] == ended_rows[0].id
        assert headers["X-Webhook-Signature"] == signing.signature(secret, headers["X-Webhook-Timestamp"],
                                                                   sent[0].body)

    run_async(main)


def test_duration_is_simulated_speech_time() -> None:
    greeting, said, answer = "Hello, you reached the clinic.", "I would like to book a cleaning please.", "Sure."

    async def main() -> None:
        async with world(agent={"begin_message": greeting, "voice_speed": 1.25}) as w:
            scripted(w).replies.extend([{"text": answer, "digits": "12"}])
            setup = await w.place([{"say": said}, {"press": "9#"}, {"silence": 3}])
            run = await w.run(setup)
            call = await w.call_row(setup.call_id)

        exact = speech(greeting, 1.25) + speech(said) + speech(answer, 1.25) + dtmf("12") + dtmf("9#") + 3
        assert run.elapsed == pytest.approx(float(exact))
        assert call.ended_at is not None and call.duration_seconds == math.ceil(exact)
        span = (call.ended_at - call.started_at).total_seconds()
        assert span == pytest.approx(float(exact), abs=1e-6)
        assert 0 <= call.duration_seconds - span < 1  # the duration is the span rounded up to whole seconds

    run_async(main)


def test_duration_does_not_round_float_noise_up() -> None:
    """1 + 2 + 4 + 3 words of speech is exactly 6 s, but the float sum is 6.000000000000001."""

    async def main() -> None:
        async with world(agent={"begin_message": "Hello."}) as w:
            scripted(w).replies.extend([{"text": "We are open today."}, {}])
            setup = await w.place([{"say": "Hi there"}, {"say": "Okay thanks then"}])
            run = await w.run(setup)
            call = await w.call_row(setup.call_id)

        exact = speech("Hello.") + speech("Hi there") + speech("We are open today.") + speech("Okay thanks then")
        assert exact == 6 and run.elapsed == pytest.approx(6.0) and run.elapsed != 6.0
        assert call.duration_seconds == 6

    run_async(main)


def test_recording_only_for_completed_calls_with_rows() -> None:
    async def main() -> None:
        async with world(recording=True) as w:
            busy = await w.call(CalleeBook().answer("+15005550001"))
            talked = await w.call([{"say": "Hi."}])
            rows = [await w.call_row(busy.setup.call_id), await w.call_row(talked.setup.call_id)]

        assert [r.recording_available for r in rows] == [False, True]

    run_async(main)


# --- who answers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", sorted(MAGIC_NUMBERS))
def test_magic_callees(number: str) -> None:
    magic = MAGIC_NUMBERS[number]
    message = "Hi {{name}}, please call us back."

    async def main() -> None:
        async with world(agent={"begin_message": GREETING, "voicemail_message": message}) as w:
            callee = CalleeBook().answer(number)
            assert callee.source == "magic" and callee.magic is magic
            setup = await w.place(callee, to=number, variables={"name": "Ada"})
            run = await w.run(setup)
            rows = await w.rows(setup.call_id)
            call = await w.call_row(setup.call_id)
            ended = w.transport.events("call.ended")[0]["data"]

        assert (call.status, call.end_reason) == (magic.status, magic.end_reason)
        assert ended["status"] == magic.status and ended["endReason"] == magic.end_reason
        assert scripted(w).requests == []  # nobody talks to the agent
        assert call.ended_at is not None
        if magic.status == "voicemail":
            assert [(r.kind, r.transcript, r.response) for r in rows] == [
                ("voicemail", "", "Hi Ada, please call us back.")]
            assert rows[0].details == {"voicemail": True}
            assert call.duration_seconds == math.ceil(speech("Hi Ada, please call us back."))
            assert run.elapsed == pytest.approx(float(speech("Hi Ada, please call us back.")))
        else:
            assert rows == [] and call.duration_seconds == 0 and call.ended_at == call.started_at
            assert ended["transcript"] == []

    run_async(main)


def test_callee_book_prefers_a_registered_script_over_magic() -> None:
    book = CalleeBook()
    script = book.put("+15005550001", [{"say": "Not busy after all."}])
    assert book.get("+15005550001") == script
    answered = book.answer("+15005550001")
    assert answered.source == "script" and answered.magic is None and answered.turns == script.turns
    assert list(book.all()) == [(None, "+15005550001")]
    assert book.remove("+15005550001") and not book.remove("+15005550001")
    assert book.answer("+15005550001").source == "magic"
    book.put(CALLEE, [{"hangup": True}])
    book.clear()
    assert book.get(CALLEE) is None


def test_generated_callee_is_reproducible_with_a_seed_and_says_goodbye() -> None:
    try:
        ids.seed(7)
        first = generated_callee()
        ids.seed(7)
        second = generated_callee()
    finally:
        ids.seed(None)
    assert first == second and first.source == "generated" and first.persona["name"]
    assert 3 <= len(first.turns) <= 4 and all(t.kind == "say" for t in first.turns)
    assert first.turns[-1].text == "Okay, thank you. Goodbye!"
    assert first.turns[0].text == f"Hello, this is {first.persona['name']}."


def test_a_generated_callee_against_a_hosted_agent_ends_with_an_agent_hangup() -> None:
    async def main() -> None:
        async with world(agent={"voice_mode": "hosted"}) as w:
            setup = await w.place(CalleeBook().answer("+14155550177"), to="+14155550177")
            await w.run(setup)
            call = await w.call_row(setup.call_id)
            rows = await w.rows(setup.call_id)

        assert (call.status, call.end_reason) == ("completed", "agent-hangup")
        assert rows[-1].transcript == "Okay, thank you. Goodbye!"

    run_async(main)


# --- replies.apply -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("obj", "digits"), [
    ({"digits": "12#"}, "12#"),
    ({"press_digit": "3"}, "3"),
    ({"dtmf": "*9"}, "*9"),
    ({"digits": 5}, "5"),
    ({"digits": 0}, "0"),
    ({"digits": True}, None),
    ({"digits": ""}, None),
    ({"digits": None, "dtmf": "4"}, "4"),
    ({"digits": "1", "dtmf": "2"}, "1"),  # the first alias present wins
    ({"digits": ["1"]}, None),
])
def test_apply_digit_aliases(obj: dict[str, Any], digits: str | None) -> None:
    out = TurnReply()
    assert apply(out, obj, 1.0) is True
    assert out.digits == digits


def test_apply_interim_chunks_then_the_closing_one() -> None:
    out = TurnReply()
    assert apply(out, {"text": "  One moment.  ", "interim": True, "digits": "1"}, 5.0) is False
    assert (out.first_chunk_ms, out.final_ms) == (5.0, None)
    assert apply(out, {"text": "   ", "interim": True}, 6.0) is False  # blank text is not a chunk
    assert apply(out, {"text": 42, "interim": True, "dtmf": "2"}, 7.0) is False  # nor is a non-string
    assert apply(out, {"text": "Done.", "interim": False, "hangup": "yes", "action": "dance"}, 9.0) is True
    assert out.chunks == ["  One moment.  ", "Done."] and out.text == "One moment. Done."
    assert (out.first_chunk_ms, out.final_ms) == (5.0, 9.0)
    assert out.digits == "12"  # digits add up across chunks
    assert out.hangup is False and out.action is None and out.ok


def test_apply_closing_without_text_and_actions() -> None:
    out = TurnReply()
    assert apply(out, {"action": "transfer", "hangup": True}, 2.0) is True
    assert out.chunks == [] and out.first_chunk_ms is None and out.final_ms == 2.0
    assert out.action == "transfer" and out.hangup is True


@pytest.mark.parametrize(("obj", "name"), [([1], "list"), ("hi", "str"), (None, "NoneType"), (3, "int")])
def test_apply_a_non_object_is_an_error(obj: Any, name: str) -> None:
    out = TurnReply()
    assert apply(out, obj, 1.0) is True
    assert out.error == f"The reply was a JSON {name}, not an object; the caller heard silence."
    assert not out.ok and out.final_ms is None


# --- script.parse_turns --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "message"), [
    ({"say": "hi"}, "Field 'turns' must be a list of turns."),
    ([{"say": "hi"}] * (MAX_TURNS + 1), f"Field 'turns' has more than {MAX_TURNS} turns."),
    (["hi"], "Field 'turns[0]' must be an object"),
    ([{}], "Field 'turns[0]' must have exactly one of say, silence, press, hangup, on_digits (got [])."),
    ([{"say": "a", "press": "1"}], "Field 'turns[0]' must have exactly one of"),
    ([{"say": "a", "loud": True}], "Field 'turns[0]' has unknown keys ['loud'] for a say turn."),
    ([{"press": "1", "interrupt": True}], "Field 'turns[0]' has unknown keys ['interrupt'] for a press turn."),
    ([{"say": "ok"}, {"say": "   "}], "Field 'turns[1].say' must be a non-empty string."),
    ([{"say": 3}], "Field 'turns[0].say' must be a non-empty string."),
    ([{"say": "a", "interrupt": "yes"}], "Field 'turns[0].interrupt' must be true or false."),
    ([{"silence": 0}], "Field 'turns[0].silence' must be a number of seconds between 0 and 3600."),
    ([{"silence": True}], "Field 'turns[0].silence'"),
    ([{"silence": 3600.5}], "Field 'turns[0].silence'"),
    ([{"silence": "2"}], "Field 'turns[0].silence'"),
    ([{"press": "12a"}], "Field 'turns[0].press' must be keypad digits"),
    ([{"press": ""}], "Field 'turns[0].press' must be keypad digits"),
    ([{"hangup": False}], "Field 'turns[0].hangup' must be true."),
    ([{"on_digits": {}}], "Field 'turns[0].on_digits' must map digits to lists of turns"),
    ([{"on_digits": [1]}], "Field 'turns[0].on_digits' must map digits"),
    ([{"on_digits": {"x": []}}], "Field 'turns[0].on_digits' has key 'x': use keypad digits or 'default'."),
    ([{"on_digits": {"1": {"say": "a"}}}], "Field 'turns[0].on_digits.1' must be a list of turns."),
    ([{"say": "a"}, {"on_digits": {"1": [{"say": ""}]}}], "Field 'turns[1].on_digits.1[0].say' must be a non-empty"),
    ([{"on_digits": {"2": [{"on_digits": {"default": [{"press": "x"}]}}]}}],
     "Field 'turns[0].on_digits.2[0].on_digits.default[0].press' must be keypad digits"),
])
def test_parse_turns_errors_name_the_field(value: Any, message: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_turns(value)
    assert status_of(err.value) == 400
    assert err.value.detail.startswith(message)


def test_parse_turns_accepts_and_round_trips() -> None:
    script: list[dict[str, Any]] = [
        {"say": "Hi"}, {"say": "Stop", "interrupt": True}, {"silence": 1.5}, {"press": "1*#w"}, {"hangup": True},
        {"on_digits": {"1": [{"say": "one"}], "default": [{"silence": 2}]}},
    ]
    turns = parse_turns(script)
    assert [t.kind for t in turns] == ["say", "say", "silence", "press", "hangup", "menu"]
    assert [t.path for t in turns] == [f"turns[{i}]" for i in range(6)]
    assert turns[5].branches["default"][0].path == "turns[5].on_digits.default[0]"
    assert [t.to_json() for t in turns] == [*script[:5], {"on_digits": {"1": [{"say": "one"}],
                                                                       "default": [{"silence": 2.0}]}}]
    assert parse_turns([]) == []
    assert parse_turns([{"silence": 3600}])[0].seconds == 3600.0
    assert isinstance(parse_turns([{"say": "x"}], "script")[0], Turn)
    with pytest.raises(Invalid, match=r"Field 'script\[0\]\.say'"):
        parse_turns([{"say": ""}], "script")


@pytest.mark.parametrize("script", [[{"press": "1\n"}], [{"on_digits": {"1\n": [{"say": "a"}]}}]])
def test_keypad_digits_reject_a_trailing_newline(script: list[dict[str, Any]]) -> None:
    with pytest.raises(Invalid):
        parse_turns(script)


# --- helpers used above --------------------------------------------------------------------------------------------


def test_speech_helper_matches_the_engine_timing() -> None:
    for text in ("", "One.", "Two words", "a b c d e f g"):
        assert float(speech(text)) == pytest.approx(timing.speech_seconds(text))
        assert float(speech(text, 1.25)) == pytest.approx(timing.speech_seconds(text, 1.25))
    for digits in ("1", "12#"):
        assert float(dtmf(digits)) == pytest.approx(timing.dtmf_seconds(digits))


def test_asking_not_to_hang_up_is_not_a_goodbye() -> None:
    ctx = HostedContext(system_prompt="Be kind.", begin_message=None, initial_greeting=None)
    reply = asyncio.run(RuleResponder().reply(ctx, "Please don't hang up on me", 1))
    farewell = asyncio.run(RuleResponder().reply(ctx, "Okay, see you, bye", 2))

    assert reply.hangup is False and "don't hang up on me" in reply.text
    assert farewell.hangup is True


def test_an_endless_stream_of_interim_chunks_is_cut_at_the_read_limit() -> None:
    interim = json.dumps({"text": "Still thinking about it...", "interim": True}).encode() + b"\n"
    endless = [interim] * (RESPONSE_LIMIT // len(interim) + 10)
    transport = StreamingTransport((200, "application/x-ndjson", endless))
    request = TurnRequest("http://agent.invalid/hook", "whsec_x", 5, "dlv_x", b"{}")

    result = asyncio.run(webhook_turn(transport, request))  # type: ignore[arg-type]

    assert result.error is not None and "exceeded 64 KiB" in result.error
    assert transport.responses[0].read < len(endless)  # it stopped reading
    assert result.text == ""  # nothing of it is spoken, so the call does not last as long as 64 KiB of text


def test_a_turn_never_stays_open_past_the_longest_timeout() -> None:
    class Trickle(StreamingTransport):
        @asynccontextmanager
        async def stream(self, url: str, body: bytes, headers: dict[str, str]) -> AsyncIterator[FakeResponse]:
            async def chunks() -> AsyncIterator[bytes]:
                while True:
                    await asyncio.sleep(0.05)
                    yield json.dumps({"text": "more", "interim": True}).encode() + b"\n"

            response = FakeResponse(200, "application/x-ndjson", [])
            response.aiter_raw = chunks  # type: ignore[method-assign]
            yield response

    request = TurnRequest("http://agent.invalid/hook", "whsec_x", 0.2, "dlv_x", b"{}", max_open=0.3)

    async def main() -> TurnReply:
        return await asyncio.wait_for(webhook_turn(Trickle(), request), 5)  # type: ignore[arg-type]

    result = asyncio.run(main())
    # The error names the real bound (not the webhook's 0.2 s timeout), and nothing of the turn is spoken.
    assert result.error is not None and "still open after 0.3 s" in result.error
    assert "No complete response" not in result.error
    assert result.chunks == [] and result.text == ""
    assert result.latency_ms < 1000


def test_a_driven_callers_change_made_before_its_waiter_first_runs_is_seen() -> None:
    """A driver asks to wait for a change and the engine puts a question before that wait first runs (the
    loop has not got to it yet): the wait still ends with the change, not at its timeout."""
    from emulator.calls.caller import DrivenCaller, Heard

    async def scenario() -> tuple[bool, int]:
        caller = DrivenCaller(wait=60)
        asking = asyncio.ensure_future(caller.next_turn(Heard("Hello?")))  # runs first: puts the question
        waiting = asyncio.ensure_future(caller.changed(60))  # asked for before the question, runs after it
        for _ in range(5):  # a few turns of the loop, no wall time
            await asyncio.sleep(0)
        seen = waiting.done()
        caller.answer(None)
        await asking
        waiting.cancel()
        return seen, caller.asked

    assert asyncio.run(scenario()) == (True, 1)
