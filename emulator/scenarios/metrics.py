"""Figures of a call (and of a suite), computed from what the engine recorded: the transcript rows, the
call's end and its deliveries. Counts and simulated seconds are deterministic; the chunk latencies are
the wall-clock milliseconds the emulator measured while the agent answered.

    turns                   caller turns (speech, keys, silence, hang-up)
    deadAirTurns            silence turns, and turns the agent answered with silence
    interruptions           agent replies the caller cut off
    digitsPressed           keypad digits the agent pressed
    callerDigitsPressed     keypad digits the caller pressed
    faultedTurns            turns that carried a fault
    noisyTurns              turns that carried noise
    firstChunkMsP50/P95     time to the agent's first spoken chunk, over the turns it answered
    finalChunkMsP50/P95     time to the chunk that closed the turn
    secondsToTransfer       simulated seconds from the start to the end of a transferred call
    secondsToHangup         the same, for a call that ended with a hang-up (either side)
    durationSeconds         the call's simulated length
    expectations            expectations checked; expectationsPassed, the ones that held

Percentiles are nearest-rank: the value at rank ceil(p * n) of the sorted figures.
"""

from __future__ import annotations

import math
from typing import Any

# The figures `expect.metrics` may set thresholds on (all but the expectation counts).
METRICS = ("turns", "deadAirTurns", "interruptions", "digitsPressed", "callerDigitsPressed", "faultedTurns",
           "noisyTurns", "firstChunkMsP50", "firstChunkMsP95", "finalChunkMsP50", "finalChunkMsP95",
           "secondsToTransfer", "secondsToHangup", "durationSeconds")
CALLER_KINDS = ("speech", "dtmf", "silence", "hangup")
COUNTS = ("turns", "deadAirTurns", "interruptions", "digitsPressed", "callerDigitsPressed", "faultedTurns",
          "noisyTurns", "expectations", "expectationsPassed")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ranked = sorted(values)
    return round(ranked[max(0, math.ceil(p * len(ranked)) - 1)], 1)


def answered(rows: list[dict[str, Any]], field: str) -> list[float]:
    return [float(r[field]) for r in rows if r.get("kind") in ("speech", "dtmf") and r.get(field) is not None]


def of_call(call: dict[str, Any] | None, rows: list[dict[str, Any]], passed: int, checked: int) -> dict[str, Any]:
    call = call or {}
    turns = [r for r in rows if r.get("kind") in CALLER_KINDS]
    exchanges = [r for r in turns if r.get("kind") in ("speech", "dtmf")]
    first, final = answered(rows, "firstChunkMs"), answered(rows, "finalChunkMs")
    reason, duration = call.get("endReason"), call.get("durationSeconds")
    return {
        "turns": len(turns),
        "deadAirTurns": sum(r.get("kind") == "silence" for r in turns) + sum(not r.get("response") for r in exchanges),
        "interruptions": sum(bool(r.get("interrupted")) for r in rows),
        "digitsPressed": sum(len(r.get("digits") or "") for r in rows),
        "callerDigitsPressed": sum(len(r.get("callerDigits") or "") for r in rows),
        "faultedTurns": sum(bool(r.get("fault")) for r in turns),
        "noisyTurns": sum(bool(r.get("noise")) for r in turns),
        "firstChunkMsP50": percentile(first, 0.5), "firstChunkMsP95": percentile(first, 0.95),
        "finalChunkMsP50": percentile(final, 0.5), "finalChunkMsP95": percentile(final, 0.95),
        "secondsToTransfer": duration if reason == "transferred" else None,
        "secondsToHangup": duration if reason in ("agent-hangup", "caller-hangup") else None,
        "durationSeconds": duration,
        "expectations": checked, "expectationsPassed": passed,
    }


def of_suite(calls: list[dict[str, Any]], rows: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Counts summed over the suite's calls, percentiles over all of their turns together."""
    every = [r for call_rows in rows for r in call_rows]
    out: dict[str, Any] = {"calls": len(calls)}
    out.update({name: sum(m[name] for m in calls) for name in COUNTS})
    first, final = answered(every, "firstChunkMs"), answered(every, "finalChunkMs")
    out.update(firstChunkMsP50=percentile(first, 0.5), firstChunkMsP95=percentile(first, 0.95),
               finalChunkMsP50=percentile(final, 0.5), finalChunkMsP95=percentile(final, 0.95))
    return out


def line(figures: dict[str, Any]) -> str:
    """The figures in one line for people."""
    def ms(name: str) -> str:
        value = figures.get(name)
        return "-" if value is None else f"{value:g}"

    return (f"{figures['turns']} turns, {figures['deadAirTurns']} dead air, {figures['interruptions']} interrupted, "
            f"{figures['digitsPressed']} digits pressed, {figures['faultedTurns']} faulted, "
            f"{figures['noisyTurns']} noisy; first chunk p50/p95 {ms('firstChunkMsP50')}/{ms('firstChunkMsP95')} ms, "
            f"final chunk p50/p95 {ms('finalChunkMsP50')}/{ms('finalChunkMsP95')} ms")
