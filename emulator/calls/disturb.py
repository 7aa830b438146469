"""What a turn's `noise` does to what the agent hears, and the figures its faults use.

Every rule is deterministic (the same words always come out the same way):
  * low-confidence: the transcript arrives as said, with confidence 0.35;
  * garbled: every word of four letters or more loses its vowels after the first letter, as a poor
    line would transcribe it ("Hi, where is my order?" -> "Hi, whr is my ordr?"); confidence 0.55;
  * overlap: someone else talks at the same time: the words of a background line (chosen by how many
    words the caller said) are merged in the middle of the caller's ("I need to book a table" ->
    "I need to no the blue one book a table"); confidence 0.6.
Several noises combine: the lowest confidence wins.

Faults: `slow-speech` makes the caller's words take SLOW_SPEECH times as long; `webhook-timeout` is
heard as the webhook's whole `timeout` of silence.
"""

from __future__ import annotations

import re

LOW_CONFIDENCE = 0.35
GARBLED_CONFIDENCE = 0.55
OVERLAP_CONFIDENCE = 0.6
SLOW_SPEECH = 3.0
BACKGROUND = ("the kids want pizza", "turn that down please", "no the blue one", "I'll be right there")
_VOWELS = re.compile(r"(?<=\w)[aeiouAEIOU]")


def garble(text: str) -> str:
    return " ".join(_VOWELS.sub("", w) if sum(c.isalpha() for c in w) >= 4 else w for w in text.split())


def overlap(text: str) -> str:
    words = text.split()
    middle = max(1, len(words) // 2)
    background = BACKGROUND[len(words) % len(BACKGROUND)]
    return " ".join([*words[:middle], background, *words[middle:]])


def heard(text: str, noise: tuple[str, ...], confidence: float) -> tuple[str, float]:
    """The transcript the agent receives for `text` said with `noise`, and its confidence."""
    if "garbled" in noise:
        text, confidence = garble(text), min(confidence, GARBLED_CONFIDENCE)
    if "overlap" in noise:
        text, confidence = overlap(text), min(confidence, OVERLAP_CONFIDENCE)
    if "low-confidence" in noise:
        confidence = min(confidence, LOW_CONFIDENCE)
    return text, confidence
