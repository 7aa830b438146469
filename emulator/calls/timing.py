"""Simulated speech time: calls advance by how long their words take to say, not by wall time."""

from __future__ import annotations

WORDS_PER_SECOND = 2.5  # about 150 words a minute
PAUSE_SECONDS = 0.5  # a turn-taking gap
DTMF_SECONDS = 0.3  # per keypad digit


def speech_seconds(text: str, speed: float = 1.0) -> float:
    words = len(text.split())
    if words == 0:
        return 0.0
    return words / (WORDS_PER_SECOND * max(speed, 0.1)) + PAUSE_SECONDS


def dtmf_seconds(digits: str) -> float:
    return len(digits) * DTMF_SECONDS + PAUSE_SECONDS
