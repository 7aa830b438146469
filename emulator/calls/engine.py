"""Runs a call as an asyncio task: caller turns -> agent replies -> transcript rows -> call.ended.

The engine needs no HTTP server: give it a store, a clock and a deliverer (which sends voice turns
and call events; a unit test gives it a fake voice sender). Time inside a call is simulated speech
time, so a call runs as fast as its agent answers. Turns and the end are published on the call bus
as typed events.

A live call's transcript rows and voice deliveries are kept in memory and written at most
once every FLUSH_SECONDS (by the first turn after it) and when the call ends, so a turn costs no
database round trip; readers of a live call merge `unsaved(call_id)` with what is stored. Where
several processes share the database, each turn is written as it happens instead.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select, update

from emulator import clock as clock_module
from emulator.activity import Activity
from emulator.calls import analysis, disturb, rows, timing, tools
from emulator.calls.bus import CallBus, EndedEvent, TurnEvent
from emulator.calls.caller import Caller, DrivenCaller, Heard, ScriptCaller
from emulator.calls.hosted import HostedContext, HostedReply, Responder, RuleResponder, fill
from emulator.calls.script import DTMF, SIGNING_FAULTS, Turn
from emulator.calls.setup import CallSetup
from emulator.calls.waits import CallWaits
from emulator.clock import Clock
from emulator.domain import contacts
from emulator.domain.calls import transcript_row
from emulator.store import Account, Call, Delivery, DeliveryAttempt, Store, Transcript, sql
from emulator.store.models import table
from emulator.webhooks import notify
from emulator.webhooks.delivery import Deliverer
from emulator.webhooks.voice import TurnReply
from emulator.wire import events

if TYPE_CHECKING:
    from emulator.leases import Leases

log = logging.getLogger("emulator.calls")

FLUSH_SECONDS = 1.0
CONFIDENCE = 0.95
SNIPPET = 200
CALLS, ACCOUNTS = table(Call), table(Account)
_SNIPPET = sql.Query(update(CALLS).where(CALLS.c.id == bindparam("call"))
                     .values(last_transcript_snippet=func.coalesce(bindparam("snippet"),
                                                                   CALLS.c.last_transcript_snippet)))
_ENDING = sql.Query(select(CALLS.c.call_metadata, ACCOUNTS.c.recording_enabled)
                    .select_from(CALLS.outerjoin(ACCOUNTS, ACCOUNTS.c.id == CALLS.c.account_id))
                    .where(CALLS.c.id == bindparam("call")))
_END = sql.Query(update(CALLS).where(CALLS.c.id == bindparam("call")).values(
    status=bindparam("to_status"), end_reason=bindparam("reason"), ended_at=bindparam("ended"),
    duration_seconds=bindparam("duration"), recording_available=bindparam("recording"),
    last_transcript_snippet=func.coalesce(bindparam("snippet"), CALLS.c.last_transcript_snippet)))
_METADATA = sql.Query(update(CALLS).where(CALLS.c.id == bindparam("call")).values(call_metadata=bindparam("metadata")))


@dataclass
class CallRun:
    setup: CallSetup
    started_at: Any
    elapsed: float = 0.0
    silence_ms: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    rows: list[Transcript] = field(default_factory=list)
    caller: Caller | None = None  # who speaks for the other end (made from the callee when the call runs)
    status: str | None = None
    end_reason: str | None = None
    stop_requested: bool = False
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # set with stop_requested; wakes waits
    inflight: asyncio.Future[Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    extra: dict[str, Any] = field(default_factory=dict)
    unsaved: list[Transcript | Delivery | DeliveryAttempt] = field(default_factory=list)  # written by the next flush
    snippet: str | None = None
    flushed_at: float = field(default_factory=time.monotonic)

    def now(self) -> Any:
        return self.started_at + timedelta(seconds=self.elapsed)

    def end(self, status: str, reason: str) -> None:
        if self.status is None:
            self.status, self.end_reason = status, reason


class CallEngine:
    def __init__(self, store: Store, clock: Clock, deliverer: Deliverer, bus: CallBus,
                 responder: Responder | None = None, realtime: bool = False, activity: Activity | None = None) -> None:
        self.store = store
        self.clock = clock
        self.deliverer = deliverer
        self.bus = bus
        self.activity = activity or deliverer.activity
        self.responder = responder or RuleResponder()
        self.realtime = realtime
        self.runs: dict[str, CallRun] = {}
        self._by_call: dict[str, asyncio.Task[Any]] = {}
        self.waits = CallWaits()  # who waits for which call to end
        # Where processes share the database, streams in the others read a call's turns from it: each turn is
        # written as it happens (emulator/calls/following.py).
        self.flush_seconds = FLUSH_SECONDS
        self.leases: Leases | None = None  # where processes share the database: who runs which call

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, setup: CallSetup, started_at: Any) -> asyncio.Task[Any]:
        run = CallRun(setup, started_at, caller=setup.callee.caller())
        self.runs[setup.call_id] = run
        task = asyncio.create_task(self._run_safely(run))
        self._by_call[setup.call_id] = task
        self.activity.call_placed(setup)
        return task

    async def end(self, call_id: str, wait: float = 5.0) -> bool:
        """Ask a running call to end (as `POST /v1/calls/{id}/end` does) and wait for it to finish."""
        run = self.runs.get(call_id)
        if run is None:
            return False
        run.stop_requested = True
        run.stopping.set()
        if run.inflight is not None:
            run.inflight.cancel()
        try:
            await asyncio.wait_for(run.done.wait(), wait)
        except TimeoutError:
            pass
        return True

    async def abort(self, account_ids: set[str] | None = None) -> None:
        """Cancel running calls (of some accounts, or all) without finishing them: used by reset."""
        tasks = [task for call_id, task in self._by_call.items()
                 if account_ids is None or self.runs[call_id].setup.account_id in account_ids]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def close(self) -> None:
        await self.abort()

    async def _run_safely(self, run: CallRun) -> None:
        clock_module.bind(run.setup.account_id)  # the call runs on its account's clock, whoever started it
        try:
            if self.leases is not None:
                await self.leases.runs(run.setup.call_id)
            await self.run(run)
        except asyncio.CancelledError:
            # Shut down or reset mid-call: the call still ends (failed) with its call.ended event.
            run.end("failed", "emulator-shutdown")
            try:
                await self._finish(run)
            except Exception:
                log.exception("Could not finish call %s at shutdown", run.setup.call_id)
            raise
        except Exception:  # a bug in one call must not take others down; the call ends as failed
            log.exception("Call %s crashed", run.setup.call_id)
            run.end("failed", "emulator-error")
            try:
                await self._finish(run)
            except Exception:
                log.exception("Could not finish call %s after its error", run.setup.call_id)
        finally:
            run.done.set()
            self.runs.pop(run.setup.call_id, None)
            self._by_call.pop(run.setup.call_id, None)
            self.waits.ended(run.setup.call_id)

    # -- the call --------------------------------------------------------------------------------

    async def run(self, run: CallRun) -> None:
        setup = run.setup
        magic = setup.callee.magic
        if magic is not None and not magic.answered:
            run.end(magic.status, magic.end_reason)
            return await self._finish(run)
        self.activity.call_answered(setup)
        if setup.direction == "inbound":
            await self._event_now(run, notify.CALL_STARTED,
                                  {"call.started": events.call_data(setup, "in-progress", run.started_at)})
            if run.stop_requested:  # ended while call.started was being delivered: nothing more is said
                run.end("completed", "ended-by-api")
                return await self._finish(run)
        if magic is not None:  # answered magic numbers: voicemail, or an instant hangup
            if magic.status == "voicemail":
                message = fill(setup.agent.voicemail_message, setup.variables) or ""
                await self._record(run, "voicemail", "", message or None, {"voicemail": True})
                await self._advance(run, timing.speech_seconds(message))
            run.end(magic.status, magic.end_reason)
            return await self._finish(run)
        greeting = self._greeting(setup)
        if greeting:
            await self._record(run, "greeting", "", greeting, {})
            run.history.append(events.history_item(greeting, "outbound", "voice", run.now()))
            await self._advance(run, timing.speech_seconds(greeting, setup.agent.voice_speed))
        caller = run.caller = run.caller or setup.callee.caller()
        heard = Heard(greeting or "", greeting=True)
        while run.status is None:
            if run.stop_requested:
                run.end("completed", "ended-by-api")
                break
            turn = await self._next_turn(run, caller, heard)
            if turn is None or run.stop_requested:
                break
            heard = await self._turn(run, turn, caller)
        run.end("completed", "ended-by-api" if run.stop_requested else "caller-finished")
        await self._finish(run)

    async def _next_turn(self, run: CallRun, caller: Caller, heard: Heard) -> Turn | None:
        """The caller's next turn; a driven caller's wait is cut short when the call is ended."""
        if self.driven(run.setup.call_id) is None:
            return await caller.next_turn(heard)
        run.inflight = asyncio.ensure_future(caller.next_turn(heard))
        try:
            turn: Turn | None = await run.inflight
            return turn
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            return None
        finally:
            run.inflight = None

    def driven(self, call_id: str) -> tuple[CallRun, DrivenCaller] | None:
        """A running call whose caller's turns arrive from outside, and that caller."""
        run = self.runs.get(call_id)
        caller = run.caller if run is not None else None
        then = caller.then if isinstance(caller, ScriptCaller) else caller
        return (run, then) if run is not None and isinstance(then, DrivenCaller) else None

    def _greeting(self, setup: CallSetup) -> str | None:
        if setup.hosted:
            return self.responder.greeting(self._hosted_context(setup))
        return fill(setup.initial_greeting, setup.variables) or fill(setup.agent.begin_message, setup.variables)

    async def _turn(self, run: CallRun, turn: Turn, caller: Caller) -> Heard:
        """Play one caller turn; what the caller heard back."""
        setup = run.setup
        note = {"turn": turn.path or None, "persona": turn.note or None}
        if turn.kind == "hangup":
            await self._record(run, "hangup", "[caller hung up]", None, note)
            run.end("completed", "caller-hangup")
        elif turn.kind == "silence":
            # The call cannot outlast the agent's silence limit: it hangs up when the limit is reached.
            allowed = max(setup.agent.max_silence_ms - run.silence_ms, 0) / 1000
            seconds = min(turn.seconds, allowed)
            run.silence_ms += seconds * 1000
            await self._record(run, "silence", f"[silence {seconds:g}s]", None, {"seconds": seconds, **note})
            await self._advance(run, seconds)
            if run.silence_ms >= setup.agent.max_silence_ms:
                run.end("completed", "silence-timeout")
        elif turn.kind in ("say", "press"):
            return await self._exchange(run, turn, caller)
        return Heard(asked=False)

    async def _exchange(self, run: CallRun, turn: Turn, caller: Caller) -> Heard:
        """The caller speaks (or presses keys) and the agent answers."""
        setup = run.setup
        run.silence_ms = 0
        spoken = turn.text if turn.kind == "say" else ""
        heard, confidence = disturb.heard(spoken, turn.noise, CONFIDENCE) if spoken else ("", 1.0)
        said = heard or f"[DTMF {turn.digits}]"
        spoken_at = run.now()
        speaking = timing.speech_seconds(spoken) if spoken else timing.dtmf_seconds(turn.digits)
        await self._advance(run, speaking * (disturb.SLOW_SPEECH if "slow-speech" in turn.fault else 1))
        run.history.append(events.history_item(said, "inbound", "voice", spoken_at))
        barge_in = caller.barges_in()
        tool_call: dict[str, Any] | None = None
        if run.stop_requested:  # ended while the caller spoke (realtime): the agent is not asked
            reply, delivery = TurnReply(error="The call was ended before the agent was asked."), None
        elif setup.hosted:
            (reply, tool_call), delivery = await self._hosted_reply(run, heard or said, turn), None
        else:
            reply, delivery = await self._webhook_reply(run, heard, confidence, turn, barge_in)
        details: dict[str, Any] = {"turn": turn.path or None, "firstChunkMs": reply.first_chunk_ms,
                                   "finalChunkMs": reply.final_ms, "chunks": list(reply.chunks),
                                   "persona": turn.note or None, "fault": list(turn.fault), "noise": list(turn.noise)}
        if heard != spoken:
            details["said"] = spoken  # what the caller really said, before the noise
        if setup.hosted and tool_call is not None:
            details["toolCall"] = tool_call
        if turn.kind == "press":
            details["callerDigits"] = turn.digits
        if reply.digits and not DTMF.fullmatch(reply.digits):
            details["error"] = f"The agent asked to press {reply.digits!r}, which are not keypad digits; ignored."
            reply.digits = None
        if reply.digits:
            details["digits"] = reply.digits
        if reply.interrupted:
            details["interrupted"] = True
        if reply.error:
            details["error"] = reply.error
        if reply.action:
            details["action"] = reply.action
        text = reply.text
        if reply.hangup or reply.action == "hangup":
            details["hangup"] = True
        if reply.action == "transfer":
            if setup.agent.transfer_number:
                details["transferredTo"] = setup.agent.transfer_number
                run.extra["transferredTo"] = setup.agent.transfer_number
                run.end("completed", "transferred")
            else:
                details["error"] = "The agent asked to transfer but has no transferNumber; the call went on."
        if reply.hangup or reply.action == "hangup":
            run.end("completed", "agent-hangup")
        await self._record(run, "dtmf" if turn.kind == "press" else "speech", said, text or None, details,
                           confidence=confidence, at=spoken_at, delivery=delivery)
        if text:
            run.history.append(events.history_item(text, "outbound", "voice", run.now()))
            await self._advance(run, timing.speech_seconds(text, setup.agent.voice_speed))
        if reply.digits:
            await self._advance(run, timing.dtmf_seconds(reply.digits))
        return Heard(text, reply.digits, reply.action, bool(details.get("hangup")), reply.interrupted, reply.error,
                     chunks=len(reply.chunks))

    async def _webhook_reply(self, run: CallRun, transcript: str, confidence: float, turn: Turn,
                             barge_in: bool) -> tuple[TurnReply, Delivery]:
        setup = run.setup
        data = events.voice_turn_data(setup, transcript, confidence, turn.digits or None)
        signing = next((f for f in turn.fault if f in SIGNING_FAULTS), None)
        attempt = await self.deliverer.voice_attempt(setup.account_id, setup.agent.id, setup.hook, setup.call_id, data,
                                               run.history, run.now(), barge_in, fault=signing)
        outage = "api-error" in turn.fault
        faults, shared = self.deliverer.faults, self.deliverer.shared
        if outage:  # the agent's own API calls fail while it answers this turn
            await shared.change("faults", lambda: faults.begin_outage(setup.account_id))
        run.inflight = asyncio.ensure_future(self.deliverer.send_voice(attempt))
        try:
            reply = await run.inflight
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            reply = TurnReply(error="The call was ended while the agent was answering.")
        finally:
            run.inflight = None
            if outage:
                await shared.change("faults", lambda: faults.end_outage(setup.account_id))
        if "webhook-timeout" in turn.fault and attempt.request is not None:
            timeout = attempt.request.timeout
            reply = TurnReply(latency_ms=reply.latency_ms,
                              error=f"The webhook did not answer within its timeout ({timeout:g} s; an injected "
                                    "fault); the caller heard silence.")
            await self._advance(run, timeout)
        return reply, self.deliverer.record_voice(attempt, reply)

    async def _hosted_reply(self, run: CallRun, utterance: str,
                            turn: Turn) -> tuple[TurnReply, dict[str, Any] | None]:
        """The built-in responder's answer; when it (or the caller's script) uses a custom tool, the tool's URL is
        called first. Returns the reply and what the tool call did (None without one)."""
        ctx = self._hosted_context(run.setup)
        answer = await self.responder.reply(ctx, utterance, len(run.rows))
        use = tools.ToolUse(turn.tool["name"], turn.tool["arguments"]) if turn.tool else answer.tool
        if use is None:
            return self._spoken([answer.text], answer), None
        tool = next((t for t in ctx.tools if t.get("name") == use.name), None)
        if tool is None:
            reply = self._spoken([answer.text], answer)
            reply.error = f"The script asked for custom tool {use.name!r}, which this agent does not have."
            return reply, None
        said = [str(tool["executionMessage"])] if tool.get("speakDuringExecution") and tool.get("executionMessage") \
            else []
        run.inflight = asyncio.ensure_future(tools.invoke(self.deliverer.transport, tool, use, run.setup))
        try:
            result: tools.ToolResult = await run.inflight
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            result = tools.ToolResult(use.name, dict(use.arguments), str(tool.get("method") or "POST"),
                                      str(tool["url"]), False, None, None,
                                      "The call was ended while the tool was running.", 0.0)
        finally:
            run.inflight = None
        await self._advance(run, result.latency_ms / 1000)
        after = await self.responder.after_tool(ctx, result)
        return self._spoken([*said, after.text], after), result.details()

    @staticmethod
    def _spoken(texts: list[str], answer: HostedReply) -> TurnReply:
        return TurnReply(chunks=[t for t in texts if t], hangup=answer.hangup,
                         action="transfer" if answer.transfer else None, digits=answer.digits,
                         first_chunk_ms=0.0, final_ms=0.0)

    def _hosted_context(self, setup: CallSetup) -> HostedContext:
        return HostedContext(
            system_prompt=fill(setup.system_prompt or setup.agent.system_prompt, setup.variables) or "",
            begin_message=setup.agent.begin_message, initial_greeting=setup.initial_greeting,
            variables=setup.variables, transfer_number=setup.agent.transfer_number,
            tools=[dict(tool) for tool in setup.agent.custom_tools],
        )

    # -- time and records ------------------------------------------------------------------------

    async def _advance(self, run: CallRun, seconds: float) -> None:
        limit = run.setup.max_seconds
        if limit is not None and run.elapsed + seconds >= limit:  # the plan's longest call: cut off there
            seconds = max(limit - run.elapsed, 0)
            run.end("completed", "max-duration")
        if not (self.realtime and seconds > 0):
            run.elapsed += seconds
            return
        started = time.monotonic()
        try:  # an end request cuts the wait short; the call then lasted only as long as it really did
            await asyncio.wait_for(run.stopping.wait(), seconds)
            run.elapsed += time.monotonic() - started
        except TimeoutError:
            run.elapsed += seconds

    async def _record(self, run: CallRun, kind: str, transcript: str, response: str | None, details: dict[str, Any],
                      *, confidence: float | None = None, at: Any = None, delivery: Delivery | None = None) -> None:
        setup = run.setup
        row = transcript_row(setup.account_id, setup.call_id, kind, transcript, response, at or run.now(),
                             confidence=confidence, details=details)
        if kind not in ("silence", "hangup"):
            run.snippet = (response or transcript)[:SNIPPET]
        run.rows.append(row)
        attempts = self.deliverer.turn_attempts(delivery, row.id) if delivery is not None else []
        run.unsaved += [row] if delivery is None else [row, delivery, *attempts]
        if self.bus.listening(setup.call_id):  # a live transcript or timeline follows the call
            self.bus.publish(setup.call_id, TurnEvent(row, delivery, attempts[0] if attempts else None))
        self.activity.call_turn(setup, row, len(run.rows), delivery)
        if time.monotonic() - run.flushed_at >= self.flush_seconds:
            batch = list(run.unsaved)
            async with self.store.write() as session:
                await self._flush(run, session, batch)
            self._saved(run, batch)

    async def _flush(self, run: CallRun, session: Any, batch: list[Transcript | Delivery | DeliveryAttempt]) -> None:
        """Write `batch` of the call's unsaved rows and its latest snippet in the caller's transaction."""
        await rows.write(session, batch)
        run.flushed_at = time.monotonic()
        if run.snippet is not None:
            await sql.run(session, _SNIPPET, call=run.setup.call_id, snippet=run.snippet)

    @staticmethod
    def _saved(run: CallRun, batch: list[Transcript | Delivery | DeliveryAttempt]) -> None:
        """Forget rows once their transaction committed (until then readers still merge them)."""
        del run.unsaved[:len(batch)]

    def unsaved(self, call_id: str) -> list[Transcript]:
        """Transcript rows of a live call not yet in the database (a snapshot: take it before reading)."""
        run = self.runs.get(call_id)
        return [r for r in run.unsaved if isinstance(r, Transcript)] if run is not None else []

    def unsaved_deliveries(self, call_id: str) -> list[Delivery | DeliveryAttempt]:
        """A live call's voice deliveries and their attempts not yet in the database (a snapshot, as `unsaved`)."""
        run = self.runs.get(call_id)
        return [r for r in run.unsaved if not isinstance(r, Transcript)] if run is not None else []

    def snippet(self, call_id: str) -> str | None:
        run = self.runs.get(call_id)
        return run.snippet if run is not None else None

    async def _event_now(self, run: CallRun, happening: notify.Happening, payloads: dict[str, Any]) -> None:
        """Deliver a call's events and wait for their attempts (so `call.started` arrives before any turn).

        Ending the call stops the wait, not the attempts: those go on in the background and are logged."""
        setup = run.setup
        async with self.store.write() as session:
            rows = await notify.emit(self.deliverer, session, setup.account_id, setup.agent.id, happening, "voice",
                                     payloads, message_id=setup.call_id)
        pending = [row for row in rows if row.status == "pending"]
        if not pending or run.stop_requested:
            self.deliverer.launch(pending)
            return
        run.inflight = asyncio.shield(asyncio.gather(*(self.deliverer.start(row.id) for row in pending)))
        try:
            await run.inflight
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        finally:
            run.inflight = None

    def _stated(self, run: CallRun) -> dict[str, Any]:
        """The analysis the caller's script states, over what a hosted responder supplies."""
        stated: dict[str, Any] = {}
        if run.setup.hosted:
            stated.update(self.responder.analysis(self._hosted_context(run.setup), analysis.spoken(run.rows)) or {})
        stated.update(run.setup.callee.analysis or {})
        return stated

    async def _finish(self, run: CallRun) -> None:
        setup = run.setup
        status = run.status or "completed"
        ended_at = run.now()
        duration = math.ceil(round(run.elapsed, 6)) if run.elapsed > 0 else 0  # no float noise rounded up
        batch = list(run.unsaved)
        async with self.store.write() as session:
            found = await sql.first(session, _ENDING, call=setup.call_id)
            if found is None:
                return
            if self.leases is not None:
                await self.leases.ran(session, setup.call_id)
            await rows.write(session, batch)
            metadata = found.call_metadata
            if run.extra.get("transferredTo"):
                metadata = {**(metadata or {}), "transferredTo": run.extra["transferredTo"]}
                await sql.run(session, _METADATA, call=setup.call_id, metadata=metadata)
            recording = bool(found.recording_enabled and status == "completed" and run.rows
                             and not (metadata or {}).get("recordingDisabled"))
            await sql.run(session, _END, call=setup.call_id, to_status=status, reason=run.end_reason, ended=ended_at,
                          duration=duration, recording=recording, snippet=run.snippet)

            async def payload(name: str) -> dict[str, Any]:
                if name == "call.ended":
                    return events.call_ended_data(setup, status, run.started_at, ended_at, duration, run.end_reason,
                                                  run.rows, run.extra)
                return events.agent_call_ended_data(
                    setup, status, run.started_at, ended_at, duration, run.end_reason, run.rows,
                    await contacts.of_number(session, setup.account_id, setup.other_party),
                    analysis.derive(run.rows, setup.direction, run.end_reason, duration, self._stated(run)))

            ended = await notify.emit(self.deliverer, session, setup.account_id, setup.agent.id, notify.CALL_ENDED,
                                      "voice", payload, message_id=setup.call_id)
        self._saved(run, batch)
        self.deliverer.launch(ended)
        self.bus.publish(setup.call_id, EndedEvent(setup.call_id, status, duration, run.end_reason))
        self.activity.call_ended(setup, status, run.end_reason, duration, len(run.rows))

