"""The voice catalogue served by GET /v1/agents/voices."""

from __future__ import annotations

DEFAULT_AGENT_VOICE = "11labs-Brian"
DEFAULT_CALL_VOICE = "Polly.Amy"

VOICES: list[dict[str, str]] = [
    {"voiceId": "11labs-Brian", "name": "Brian", "provider": "elevenlabs", "gender": "male"},
    {"voiceId": "11labs-Adrian", "name": "Adrian", "provider": "elevenlabs", "gender": "male"},
    {"voiceId": "11labs-Emily", "name": "Emily", "provider": "elevenlabs", "gender": "female"},
    {"voiceId": "11labs-Lily", "name": "Lily", "provider": "elevenlabs", "gender": "female"},
    {"voiceId": "alloy", "name": "Alloy", "provider": "openai", "gender": "neutral"},
    {"voiceId": "echo", "name": "Echo", "provider": "openai", "gender": "male"},
    {"voiceId": "nova", "name": "Nova", "provider": "openai", "gender": "female"},
    {"voiceId": "shimmer", "name": "Shimmer", "provider": "openai", "gender": "female"},
    {"voiceId": "Polly.Amy", "name": "Amy", "provider": "polly", "gender": "female"},
    {"voiceId": "Polly.Matthew", "name": "Matthew", "provider": "polly", "gender": "male"},
]
