"""The voice catalogue served by GET /v1/agents/voices."""

from __future__ import annotations

DEFAULT_AGENT_VOICE = "11labs-Brian"
DEFAULT_CALL_VOICE = "Polly.Amy"

# (voice ID, name, provider, gender, accent)
_CATALOGUE = [
    ("11labs-Brian", "Brian", "elevenlabs", "male", "American"),
    ("11labs-Adrian", "Adrian", "elevenlabs", "male", "American"),
    ("11labs-Emily", "Emily", "elevenlabs", "female", "American"),
    ("11labs-Lily", "Lily", "elevenlabs", "female", "British"),
    ("alloy", "Alloy", "openai", "neutral", "American"),
    ("echo", "Echo", "openai", "male", "American"),
    ("nova", "Nova", "openai", "female", "American"),
    ("shimmer", "Shimmer", "openai", "female", "American"),
    ("Polly.Amy", "Amy", "polly", "female", "British"),
    ("Polly.Matthew", "Matthew", "polly", "male", "American"),
]

# Each voice in both spellings clients read: `voiceId`/`name` (the emulator's) and `voice_id`/`voice_name`
# (the voice provider's, as the MCP server reads them). There are no audio previews: `preview_audio_url` is null.
VOICES: list[dict[str, str | None]] = [
    {"voiceId": voice_id, "name": name, "provider": provider, "gender": gender, "voice_id": voice_id,
     "voice_name": name, "accent": accent, "preview_audio_url": None}
    for voice_id, name, provider, gender, accent in _CATALOGUE
]
