"""What a call's end reports about it in `agent.call_ended`: the spoken transcript, why it ended in the voice
provider's words, and the post-call analysis (summary, the caller's sentiment, whether it succeeded).

The analysis is derived from the transcript by fixed rules, so the same call always reports the same:

- transcript: what was said, in spoken order, as `{role, content}`; the greeting, the agent's replies and a
  voicemail left are `agent`, the caller's lines `user`. Keypad presses, silences and the hang-up are not
  words and are left out.
- summary: None when nothing was said; else one sentence per fact: who called whom, how many lines each
  side spoke, the caller's first line, the agent's last line, and why the call ended.
- userSentiment: None when the caller said nothing; else the caller's lines are scored, +1 for each word of
  POSITIVE and -1 for each of NEGATIVE: above 0 is `Positive`, below 0 `Negative`, 0 `Neutral`.
- callSuccessful: None when no person answered (busy, no answer, failed to connect, voicemail); else true
  when the call ended normally (a hang-up on either side, or a transfer) and the agent answered every line
  the caller spoke, false otherwise.

A caller script (callee scripts, dialled-in calls, scenarios) may state any of the three instead, and so may
a hosted responder; what is stated wins over the rules, field by field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulator.store import Transcript

# The engine's end reasons in the voice provider's `disconnectionReason` vocabulary.
DISCONNECTION: dict[str, str] = {
    "caller-finished": "user_hangup",  # the caller's script ran out: they hung up
    "caller-hangup": "user_hangup",
    "callee-hangup": "user_hangup",
    "agent-hangup": "agent_hangup",
    "ended-by-api": "agent_hangup",  # POST /v1/calls/{id}/end: your side ended it
    "transferred": "call_transfer",
    "busy": "dial_busy",
    "no-answer": "dial_no_answer",
    "carrier-failure": "dial_failed",
    "voicemail": "voicemail_reached",
    "silence-timeout": "inactivity",
    "max-duration": "max_duration_reached",
    "emulator-error": "error_unknown",
    "emulator-shutdown": "error_unknown",
    "emulator-restarted": "error_unknown",
}
NOT_ANSWERED = frozenset({"dial_busy", "dial_no_answer", "dial_failed", "voicemail_reached"})
NORMAL_ENDS = frozenset({"user_hangup", "agent_hangup", "call_transfer"})
SENTIMENTS = ("Positive", "Neutral", "Negative")

POSITIVE = frozenset("thanks thank great perfect awesome excellent wonderful amazing love appreciate helpful "
                     "happy glad good nice fantastic".split())
NEGATIVE = frozenset("angry terrible awful bad hate upset frustrated frustrating unhappy worst complaint "
                     "ridiculous useless disappointed annoyed horrible wrong unacceptable".split())
WORD = re.compile(r"[a-z']+")
QUOTE = 120  # characters of a line quoted in a summary

ENDINGS = {
    "user_hangup": "the caller hung up",
    "agent_hangup": "the agent hung up",
    "call_transfer": "the agent transferred the call",
    "dial_busy": "the line was busy",
    "dial_no_answer": "nobody answered",
    "dial_failed": "the call could not be connected",
    "voicemail_reached": "it reached voicemail",
    "inactivity": "the caller stayed silent too long",
    "max_duration_reached": "it reached the plan's longest call",
}


def disconnection_reason(end_reason: str | None) -> str | None:
    if end_reason is None:
        return None
    return DISCONNECTION.get(end_reason, "error_unknown")


def spoken(rows: Iterable[Transcript]) -> list[dict[str, str]]:
    """The words of the call in the order they were spoken."""
    out: list[dict[str, str]] = []
    for row in rows:
        if row.kind == "speech" and row.transcript:
            out.append({"role": "user", "content": row.transcript})
        if row.kind in ("greeting", "speech", "dtmf", "voicemail") and row.response:
            out.append({"role": "agent", "content": row.response})
    return out


@dataclass(frozen=True)
class Analysis:
    summary: str | None
    user_sentiment: str | None
    call_successful: bool | None

    def wire(self) -> dict[str, Any]:
        return {"summary": self.summary, "userSentiment": self.user_sentiment, "callSuccessful": self.call_successful}


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE else text[:QUOTE - 3].rstrip() + "..."


def sentiment(lines: list[str]) -> str | None:
    if not lines:
        return None
    words = [w.strip("'") for line in lines for w in WORD.findall(line.lower())]
    score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    return "Positive" if score > 0 else "Negative" if score < 0 else "Neutral"


def summary(turns: list[dict[str, str]], direction: str, reason: str | None, duration: int) -> str | None:
    if not turns:
        return None
    said = [t["content"] for t in turns if t["role"] == "user"]
    replies = [t["content"] for t in turns if t["role"] == "agent"]
    who = {"inbound": "A caller phoned the agent", "outbound": "The agent called out",
           "web": "A browser caller spoke with the agent"}.get(direction, "A call")
    parts = [f"{who} for {duration} s: the caller spoke {len(said)} line(s), the agent {len(replies)}."]
    if said:
        parts.append(f'The caller opened with "{_quote(said[0])}".')
    if replies:
        parts.append(f'The agent\'s last words were "{_quote(replies[-1])}".')
    parts.append(f"The call ended because {ENDINGS.get(reason or '', 'of an error')}.")
    return " ".join(parts)


def successful(rows: list[Transcript], reason: str | None) -> bool | None:
    if reason in NOT_ANSWERED:
        return None
    answered = all(row.response for row in rows if row.kind == "speech" and row.transcript)
    return reason in NORMAL_ENDS and answered


def derive(rows: list[Transcript], direction: str, end_reason: str | None, duration: int,
           stated: dict[str, Any] | None = None) -> Analysis:
    """The rules' analysis of the call, with whatever a script or responder `stated` taking precedence."""
    turns = spoken(rows)
    reason = disconnection_reason(end_reason)
    stated = stated or {}
    derived = Analysis(summary(turns, direction, reason, duration),
                       sentiment([t["content"] for t in turns if t["role"] == "user"]), successful(rows, reason))
    return Analysis(
        stated["summary"] if "summary" in stated else derived.summary,
        stated["userSentiment"] if "userSentiment" in stated else derived.user_sentiment,
        stated["callSuccessful"] if "callSuccessful" in stated else derived.call_successful,
    )
