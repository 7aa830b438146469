"""Checking a finished call (or SMS exchange) against its scenario's expectations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from emulator.scenarios.model import Bounds, CallExpect, ScenarioPersona, TurnExpect

CONTEXT_ROWS = 2


@dataclass
class Check:
    name: str
    passed: bool
    message: str = ""
    turn: str | None = None


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _line(row: dict[str, Any]) -> str:
    caller = row.get("transcript") or ""
    agent = row.get("response")
    return f"  [{row.get('kind', 'speech')}] caller: {caller!r} | agent: {agent!r}"


def context(rows: list[dict[str, Any]], index: int | None) -> str:
    """The transcript around a row (or the tail of the call), for failure messages."""
    if not rows:
        return "  (the transcript is empty)"
    if index is None:
        chosen = rows[-(2 * CONTEXT_ROWS + 1):]
    else:
        chosen = rows[max(0, index - CONTEXT_ROWS): index + CONTEXT_ROWS + 1]
    return "\n".join(_line(r) + ("   <-- this turn" if index is not None and r is rows[index] else "") for r in chosen)


def turn_checks(path: str, expect: TurnExpect, rows: list[dict[str, Any]], label: str,
                ended: str | None = None) -> list[Check]:
    """Checks of one turn's reply; `rows` is the transcript, the turn is found by its path."""
    index = next((i for i, r in enumerate(rows) if r.get("turn") == path), None)
    name = f"{label} {path}"
    if index is None:
        return [Check(f"{name} was reached", False,
                      f"{name} never happened: the call ended first (endReason {ended}).\n{context(rows, None)}", path)]
    return reply_checks(name, expect, rows[index], rows, index, path)


def reply_checks(name: str, expect: TurnExpect, row: dict[str, Any], rows: list[dict[str, Any]], index: int,
                 path: str | None) -> list[Check]:
    reply = row.get("response") or ""
    heard = row.get("transcript") or ""
    out: list[Check] = []

    def check(what: str, ok: bool, got: str) -> None:
        message = "" if ok else (f"{name} (caller said {heard!r}): expected {what}, but {got}.\n"
                                 f"{context(rows, index)}")
        out.append(Check(f"{name}: {what}", ok, message, path))

    said = f"the agent said {reply!r}" if reply else "the agent was silent" + (
        f" ({row['error']})" if row.get("error") else "")
    for phrase in _as_list(expect.contains):
        check(f"the reply to contain {phrase!r}", phrase.lower() in reply.lower(), said)
    for phrase in _as_list(expect.not_contains):
        check(f"the reply not to contain {phrase!r}", phrase.lower() not in reply.lower(), said)
    if expect.matches is not None:
        check(f"the reply to match /{expect.matches}/", re.search(expect.matches, reply) is not None, said)
    if expect.not_silent:
        check("a reply (not silence)", bool(reply), said)
    if expect.silent:
        check("silence", not reply, said)
    if expect.hangup is not None:
        got = bool(row.get("hangup"))
        check("the agent to hang up" if expect.hangup else "no hangup", got == expect.hangup,
              "it did" if got else "it did not")
    if expect.transfer is not None:
        got = row.get("action") == "transfer"
        check("a transfer" if expect.transfer else "no transfer", got == expect.transfer,
              f"the action was {row.get('action')!r}")
    if expect.digits is not None:
        check(f"the agent to press {expect.digits!r}", row.get("digits") == expect.digits,
              f"it pressed {row.get('digits')!r}")
    if expect.interrupted is not None:
        got = bool(row.get("interrupted"))
        check("the reply to be cut by the caller" if expect.interrupted else "an uninterrupted reply",
              got == expect.interrupted, "it was" if got else "it was not")
    if expect.first_chunk_ms_under is not None:
        first = row.get("firstChunkMs")
        check(f"the first chunk in under {expect.first_chunk_ms_under:g} ms",
              first is not None and first < expect.first_chunk_ms_under,
              "no chunk arrived" if first is None else f"it took {first:g} ms")
    return out


def _bounds(value: float | None, bounds: Bounds) -> bool:
    if value is None:
        return False
    return (bounds.min is None or value >= bounds.min) and (bounds.max is None or value <= bounds.max)


def _describe(bounds: Bounds) -> str:
    if bounds.min is not None and bounds.max is not None:
        return f"between {bounds.min:g} and {bounds.max:g}"
    return f"at least {bounds.min:g}" if bounds.min is not None else f"at most {bounds.max:g}"


def call_checks(expect: CallExpect, call: dict[str, Any], rows: list[dict[str, Any]],
                deliveries: list[dict[str, Any]]) -> list[Check]:
    out: list[Check] = []

    def check(what: str, ok: bool, got: str) -> None:
        message = "" if ok else f"call: expected {what}, but {got}.\n{context(rows, None)}"
        out.append(Check(f"call: {what}", ok, message))

    if expect.status is not None:
        check(f"status {expect.status!r}", call.get("status") == expect.status, f"it was {call.get('status')!r}")
    if expect.end_reason is not None:
        check(f"endReason {expect.end_reason!r}", call.get("endReason") == expect.end_reason,
              f"it was {call.get('endReason')!r}")
    if expect.duration_seconds is not None:
        duration = call.get("durationSeconds")
        check(f"durationSeconds {_describe(expect.duration_seconds)}", _bounds(duration, expect.duration_seconds),
              f"it was {duration}")
    spoken = " ".join(f"{r.get('transcript') or ''} {r.get('response') or ''}" for r in rows).lower()
    for phrase in _as_list(expect.transcript_contains):
        check(f"the transcript to contain {phrase!r}", phrase.lower() in spoken, "it does not")
    turns = [d for d in deliveries if d.get("eventType") == "agent.message"]
    if isinstance(expect.deliveries, int):
        check(f"{expect.deliveries} agent.message deliveries", len(turns) == expect.deliveries,
              f"there were {len(turns)}")
    elif expect.deliveries is not None:
        check(f"agent.message deliveries {_describe(expect.deliveries)}", _bounds(len(turns), expect.deliveries),
              f"there were {len(turns)}")
    if expect.deliveries_ok:
        bad = [d for d in deliveries if d.get("status") != "success" or not 200 <= (d.get("httpStatus") or 0) < 300]
        detail = "; ".join(f"{d.get('eventType')} {d.get('id')}: {d.get('status')} "
                           f"HTTP {d.get('httpStatus')} {d.get('errorMessage') or ''}".strip() for d in bad[:5])
        check("every delivery signed and answered 2xx", not bad, f"{len(bad)} did not: {detail}")
    return out


def metric_checks(expect: CallExpect, figures: dict[str, Any], rows: list[dict[str, Any]]) -> list[Check]:
    """The call's metrics against the thresholds in `expect.metrics` (a number is an exact value)."""
    out: list[Check] = []
    for name, wanted in (expect.metrics or {}).items():
        value = figures.get(name)
        if isinstance(wanted, Bounds):
            what, ok = f"{name} {_describe(wanted)}", _bounds(value, wanted)
        else:
            what, ok = f"{name} {wanted:g}", value is not None and value == wanted
        got = "there was no such figure (no turn produced it)" if value is None else f"it was {value:g}"
        out.append(Check(f"call: metric {what}", ok, "" if ok else f"call: expected {what}, but {got}.\n"
                                                                   f"{context(rows, None)}"))
    return out


def persona_checks(persona: ScenarioPersona, rows: list[dict[str, Any]]) -> list[Check]:
    """Each fact the persona must be told: one of its phrases in something the agent said."""
    spoken = " ".join(r.get("response") or "" for r in rows).lower()
    out = []
    for fact in persona.must_be_told:
        phrases = persona.phrases(fact)
        ok = any(p.lower() in spoken for p in phrases)
        wanted = " or ".join(repr(p) for p in phrases)
        out.append(Check(f"call: the agent told the caller the {fact}", ok, "" if ok else (
            f"call: expected the agent to tell the caller the {fact} ({wanted}), but it never said it "
            f"(the caller's goal: {persona.goal}).\n{context(rows, None)}")))
    return out
