"""Agents on the wire: what clients send, what they get back, and the vendor's documented defaults.

To add an agent setting: a field here (in `AgentFields`, `Agent` and `DEFAULTS`) and a column in
`emulator/store/models.py`; the render function and the OpenAPI document follow by themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from emulator.voices import DEFAULT_AGENT_VOICE
from emulator.wire.base import (
    Json,
    Label,
    Model,
    NonEmpty,
    Out,
    Page,
    Paragraph,
    Prompt,
    Timestamp,
    Whole,
    columns,
    page,
    written_page,
)
from emulator.wire.rules import PhoneNumber, WebUrl, not_null
from emulator.wire.sqlite_json import object_sql, pairs_sql

if TYPE_CHECKING:
    from sqlalchemy import Table

    from emulator.store import Agent as AgentRow
    from emulator.store import PhoneNumber as NumberRow

VoiceMode = Literal["webhook", "hosted"]
ModelTier = Literal["turbo", "balanced", "max"]
SttMode = Literal["fast", "accurate"]
AmbientSound = Literal["none", "office", "coffee-shop", "outdoor"]
DenoisingMode = Literal["noise-cancellation", "noise-and-background-speech-cancellation"]
Language = Literal[
    "af-ZA", "ar-SA", "az-AZ", "bg-BG", "bs-BA", "ca-ES", "cs-CZ", "cy-GB", "da-DK", "de-DE", "el-GR",
    "en-AU", "en-GB", "en-IN", "en-NZ", "en-US", "es-419", "es-ES", "fa-IR", "fi-FI", "fil-PH", "fr-CA",
    "fr-FR", "gl-ES", "he-IL", "hi-IN", "hr-HR", "hu-HU", "hy-AM", "id-ID", "is-IS", "it-IT", "ja-JP",
    "kk-KZ", "kn-IN", "ko-KR", "lt-LT", "lv-LV", "mk-MK", "mr-IN", "ms-MY", "ne-NP", "nl-BE", "nl-NL",
    "no-NO", "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sk-SK", "sl-SI", "sr-RS", "sv-SE", "sw-KE",
    "ta-IN", "th-TH", "tr-TR", "uk-UA", "ur-IN", "vi-VN", "yue-CN", "zh-CN",
]
MaxSilenceMs = Annotated[int, Field(ge=10_000, le=3_600_000), Whole]
VoiceSpeed = Annotated[float, Field(ge=0.5, le=2.0)]
Sensitivity = Annotated[float, Field(ge=0.0, le=1.0)]

# The vendor's defaults for every setting a new agent does not name.
DEFAULTS: dict[str, Any] = {
    "description": None,
    "voice_mode": "webhook",
    "system_prompt": None,
    "begin_message": None,
    "voice": DEFAULT_AGENT_VOICE,
    "model_tier": "balanced",
    "enable_messaging": True,
    "transfer_number": None,
    "custom_tools": None,
    "voicemail_message": None,
    "call_screening_identity": None,
    "call_screening_purpose": None,
    "stt_mode": "fast",
    "ambient_sound": "none",
    "denoising_mode": "noise-cancellation",
    "max_silence_ms": 600_000,
    "voice_speed": 1.0,
    "interruption_sensitivity": 0.8,
    "enable_backchannel": True,
    "language": "en-US",
}

# Settings whose stored value may be null; PATCHing the others to null is refused.
NULLABLE = frozenset(name for name, value in DEFAULTS.items() if value is None)


# --- requests ----------------------------------------------------------------------------------------------


class CustomTool(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="allow")
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
    description: Annotated[str, Field(max_length=1_000)]
    url: WebUrl
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, Annotated[str, Field(max_length=2048)]] | None = None
    parameters: dict[str, Any] | None = None
    timeout_ms: Annotated[int, Field(ge=1000, le=120_000), Whole] | None = None
    speak_during_execution: bool | None = None
    execution_message: Label | None = None


class AgentFields(Model):
    """Every agent setting except `name`; all optional (PATCH semantics come from `exclude_unset`)."""

    description: Paragraph | None = None
    voice_mode: VoiceMode | None = None
    system_prompt: Prompt | None = None
    begin_message: Paragraph | None = None
    voice: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    model_tier: ModelTier | None = None
    enable_messaging: bool | None = None
    transfer_number: PhoneNumber | None = None
    custom_tools: Annotated[list[CustomTool], Field(max_length=20)] | None = None
    voicemail_message: Paragraph | None = None
    call_screening_identity: Label | None = None
    call_screening_purpose: Label | None = None
    stt_mode: SttMode | None = None
    ambient_sound: AmbientSound | None = None
    denoising_mode: DenoisingMode | None = None
    max_silence_ms: MaxSilenceMs | None = None
    voice_speed: VoiceSpeed | None = None
    interruption_sensitivity: Sensitivity | None = None
    enable_backchannel: bool | None = None
    language: Language | None = None

    def settings(self) -> dict[str, Any]:
        """The fields this request names (snake_case, `name` included), custom tools as plain objects."""
        data = self.model_dump(exclude_unset=True, exclude={"id", "webhook"})
        if data.get("custom_tools") is not None:
            data["custom_tools"] = [tool.model_dump(by_alias=True, exclude_none=True)
                                    for tool in self.custom_tools or []]
        return data


def hosted_needs_a_prompt(schema: dict[str, Any]) -> None:
    """An agent created hosted comes with a prompt (emulator/domain/agents.py check)."""
    schema["if"] = {"properties": {"voiceMode": {"const": "hosted"}}, "required": ["voiceMode"]}
    schema["then"] = {"required": ["systemPrompt"], "properties": {"systemPrompt": {"type": "string",
                                                                                   "pattern": r"\S"}}}


class CreateAgent(AgentFields):
    model_config = ConfigDict(json_schema_extra=hosted_needs_a_prompt)

    name: NonEmpty


def _update_rules(schema: dict[str, Any], model: type[BaseModel]) -> None:
    not_null(*(name for name in AgentFields.model_fields if name not in NULLABLE), "name")(schema, model)
    schema["if"] = {"properties": {"voiceMode": {"const": "hosted"}}, "required": ["voiceMode", "systemPrompt"]}
    schema["then"] = {"properties": {"systemPrompt": {"type": "string", "pattern": r"\S"}}}


class UpdateAgent(AgentFields):
    model_config = ConfigDict(json_schema_extra=_update_rules)

    name: NonEmpty | None = None


class AttachNumber(Model):
    number_id: Annotated[str, Field(min_length=1)]


# --- responses ---------------------------------------------------------------------------------------------


class AgentNumber(Out):
    id: str
    phone_number: str
    status: str
    type: str


class Agent(Out):
    id: str
    name: str
    description: str | None
    voice_mode: VoiceMode
    system_prompt: str | None
    begin_message: str | None
    voice: str
    model_tier: ModelTier
    enable_messaging: bool
    transfer_number: str | None
    custom_tools: list[Json] | None
    voicemail_message: str | None
    call_screening_identity: str | None
    call_screening_purpose: str | None
    stt_mode: SttMode
    ambient_sound: AmbientSound
    denoising_mode: DenoisingMode
    max_silence_ms: int
    voice_speed: float
    interruption_sensitivity: float
    enable_backchannel: bool
    language: str
    numbers: list[AgentNumber]
    phone_numbers: list[AgentNumber]
    created_at: Timestamp
    updated_at: Timestamp


class DeleteAgent(Out):
    """The vendor's `{success, id, name}` plus the skill doc's `{message, unassignedNumbers}`."""

    success: bool
    id: str
    name: str
    message: str
    unassigned_numbers: list[str]


class AttachedNumber(Out):
    success: bool
    agent_id: str
    number: AgentNumber


class Voice(Out):
    """A voice, in the emulator's spelling and the voice provider's (`voice_id`, `voice_name`, ...)."""

    voice_id: str
    name: str
    provider: str
    gender: str
    provider_voice_id: str = Field(alias="voice_id")
    voice_name: str = Field(alias="voice_name")
    accent: str
    preview_audio_url: str | None = Field(alias="preview_audio_url")


AgentList = Page[Agent]
VoiceList = Page[Voice]


# --- rendering ---------------------------------------------------------------------------------------------

LISTED_SKIP = ("numbers", "phone_numbers")  # the fields `agent` adds to a row's columns
_agent_columns = columns(Agent, skip=LISTED_SKIP)


def agent_number(number: NumberRow) -> dict[str, Any]:
    return {"id": number.id, "phoneNumber": number.phone_number, "status": number.status, "type": number.type}


def agent(row: AgentRow, numbers: list[NumberRow]) -> dict[str, Any]:
    out = _agent_columns(row)
    attached = [agent_number(n) for n in numbers]
    out["numbers"] = attached
    out["phoneNumbers"] = attached
    return out


def numbers_sql(agents: Table, numbers: Table) -> str:
    """The JSON array of an agent's active numbers as `agent_number` renders them, in the order they were attached,
    as SQL over a row of `agents` (SQLite; emulator/wire/sqlite_json.py)."""
    a, n = agents.name, numbers.name
    number = pairs_sql([("id", f"{n}.id"), ("phoneNumber", f"{n}.phone_number"), ("status", f"{n}.status"),
                        ("type", f"{n}.type")])
    return (f"(SELECT json_group_array(json(attached.j)) FROM (SELECT {number} AS j FROM {n} "
            f"WHERE {n}.agent_id = {a}.id AND {n}.status = 'active' ORDER BY {n}.attached_at, {n}.pk) AS attached)")


def document_sql(agents: Table, numbers: Table) -> str:
    """The whole document `written` makes of a row, as SQL over a row of `agents` (SQLite): what
    emulator/store/documents.py keeps for each agent."""
    wire = object_sql(Agent, agents, skip=LISTED_SKIP)
    attached = numbers_sql(agents, numbers)
    return (f"(SELECT substr(doc.wire, 1, length(doc.wire) - 1) || ',\"numbers\":' || doc.numbers || "
            f"',\"phoneNumbers\":' || doc.numbers || '}}' FROM (SELECT {wire} AS wire, {attached} AS numbers) AS doc)")


def written(row: Any) -> Any:
    """An agent SQLite wrote as JSON (a row with `wire`, `agent(...)`'s document: `document_sql`), for orjson to
    send as it is."""
    return orjson.Fragment(row.wire)


def agent_page(rows: list[Any], numbers: dict[str, list[NumberRow]], total: int, offset: int) -> dict[str, Any]:
    """A page of agents: the documents SQLite wrote (JSON text), else `agent(row, its numbers)` of each row."""
    if rows and isinstance(rows[0], str):
        return written_page(rows, total, offset)
    return page([agent(row, numbers.get(row.id, [])) for row in rows], total, offset)


def deleted(row: AgentRow, unassigned: list[str]) -> dict[str, Any]:
    return {"success": True, "id": row.id, "name": row.name, "message": "Agent deleted",
            "unassignedNumbers": unassigned}


def attached(agent_id: str, number: NumberRow) -> dict[str, Any]:
    return {"success": True, "agentId": agent_id, "number": agent_number(number)}
