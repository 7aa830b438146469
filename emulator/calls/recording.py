"""Call recordings: a real WAV file as long as the call (8 kHz mono 16-bit), generated on request."""

from __future__ import annotations

import io
import math
import struct
import wave

RATE = 8000
MAX_SECONDS = 2 * 60 * 60


def wav(duration_seconds: int) -> bytes:
    """A quiet 440 Hz tone, so players show a waveform; length equals the call's duration."""
    seconds = max(0, min(duration_seconds, MAX_SECONDS))
    period = [int(600 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(RATE // 440 * 20)]
    cycle = struct.pack(f"<{len(period)}h", *period)
    frames = RATE * seconds
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        whole, rest = divmod(frames, len(period))
        handle.writeframes(cycle * whole + cycle[: rest * 2])
    return out.getvalue()
