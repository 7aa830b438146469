"""Calls on the wire: placing one, the call with its transcript, web calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import Field

from emulator.clock import iso
from emulator.wire.agents import ModelTier
from emulator.wire.base import Json, Label, Model, Out, Page, Paragraph, Timestamp, page
from emulator.wire.rules import PhoneNumber
from emulator.wire.sqlite_json import column_sql, pairs_sql

if TYPE_CHECKING:
    from sqlalchemy import Table

    from emulator.domain.calls import Listed
    from emulator.store import Call as CallRow
    from emulator.store import Transcript as TranscriptRow

# --- requests ----------------------------------------------------------------------------------------------


class PlaceCall(Model):
    agent_id: Annotated[str, Field(min_length=1)]
    to_number: PhoneNumber
    from_number_id: str | None = None
    initial_greeting: Annotated[str, Field(max_length=2000)] | None = None
    voice: Annotated[str, Field(max_length=100)] | None = None
    system_prompt: Annotated[str, Field(max_length=20_000)] | None = None
    variables: dict[str, Paragraph] | None = None
    model_tier: ModelTier | None = None
    disable_recording: bool | None = None
    call_screening_identity: Label | None = None
    call_screening_purpose: Label | None = None
    wait_for_completion: bool | None = None
    max_wait_seconds: Annotated[int, Field(ge=10, le=600)] | None = None


class WebCall(Model):
    agent_id: Annotated[str, Field(min_length=1)]
    metadata: dict[str, Any] | None = None
    variables: dict[str, Paragraph] | None = None


# --- responses ---------------------------------------------------------------------------------------------


class Transcript(Out):
    """One turn. The optional fields are the engine's per-turn details, present when they apply."""

    id: str
    transcript: str
    response: str | None
    confidence: float | None
    kind: Literal["greeting", "speech", "dtmf", "silence", "hangup", "voicemail"]
    created_at: Timestamp
    turn: str | None = None
    first_chunk_ms: float | None = None
    final_chunk_ms: float | None = None
    chunks: list[str] | None = None
    caller_digits: str | None = None
    digits: str | None = None
    interrupted: bool | None = None
    error: str | None = None
    action: str | None = None
    hangup: bool | None = None
    transferred_to: str | None = None
    seconds: float | None = None
    voicemail: bool | None = None
    tool_call: Json | None = None  # a hosted agent's custom tool call: name, arguments, url, result or error
    persona: str | None = None  # the rule a persona caller followed for this turn
    fault: list[str] | None = None  # the turn's injected faults
    noise: list[str] | None = None  # the turn's noise
    said: str | None = None  # what the caller said, when noise changed what the agent heard


class Call(Out):
    id: str
    agent_id: str | None
    agent_name: str | None
    phone_number_id: str | None
    phone_number: str | None
    from_number: str
    to_number: str
    direction: Literal["inbound", "outbound", "web"]
    type: str
    status: str
    voice: str | None
    started_at: Timestamp
    ended_at: Timestamp | None
    duration_seconds: int | None
    last_transcript_snippet: str | None
    end_reason: str | None
    recording_url: str | None
    recording_available: bool


class CallDetail(Call):
    transcripts: list[Transcript]


class PlacedCall(Call):
    """POST /v1/calls echoes the request; `callee` says who answers (script, magic, generated). With
    `waitForCompletion` the call comes once ended, with its `transcripts`."""

    initial_greeting: str | None
    system_prompt: str | None
    variables: dict[str, str] | None
    callee: str
    retell_call_id: str | None
    transcripts: list[Transcript] | None = None


class WebCallCreated(Call):
    call_id: str
    access_token: str
    expires_at: Timestamp
    metadata: Json | None
    variables: dict[str, str] | None


class TranscriptList(Out):
    call_id: str
    status: str
    data: list[Transcript]
    total: int


CallList = Page[Call]


# --- rendering ---------------------------------------------------------------------------------------------


def transcript(row: TranscriptRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "transcript": row.transcript,
        "response": row.response,
        "confidence": row.confidence,
        "kind": row.kind,
        **(row.details or {}),
        "createdAt": iso(row.created_at),
    }


def call(row: CallRow, base_url: str, recording_enabled: bool, transcripts: list[TranscriptRow] | None = None,
         agent_name: str | None = None, snippet: str | None = None) -> dict[str, Any]:
    """A call; `snippet` is a live call's latest words, newer than the stored snippet."""
    show_recording = row.recording_available and recording_enabled
    out: dict[str, Any] = {
        "id": row.id,
        "agentId": row.agent_id,
        "agentName": agent_name,
        "phoneNumberId": row.phone_number_id,
        "phoneNumber": row.phone_number,
        "fromNumber": row.from_number,
        "toNumber": row.to_number,
        "direction": row.direction,
        "type": row.type,
        "status": row.status,
        "voice": row.voice,
        "startedAt": iso(row.started_at),
        "endedAt": iso(row.ended_at),
        "durationSeconds": row.duration_seconds,
        "lastTranscriptSnippet": snippet or row.last_transcript_snippet,
        "endReason": row.end_reason,
        "recordingUrl": f"{base_url}/v1/calls/{row.id}/recording" if show_recording else None,
        "recordingAvailable": row.recording_available,
    }
    if transcripts is not None:
        out["transcripts"] = [transcript(t) for t in transcripts]
    return out


UNNAMED = '"agentName":null,'  # as `listed_sql` writes it: no text value can hold it unescaped


def listed_sql(calls: Table) -> str:
    """A listed call as SQLite writes it (emulator/wire/sqlite_json.py): what `call` renders for a page with
    `agentName` null (`named_sql` writes it in) and `recordingUrl` null (`listed_call` writes it in where it
    shows)."""
    def column(attr: str) -> str:
        return column_sql(calls, attr)

    return pairs_sql([
        ("id", column("id")), ("agentId", column("agent_id")), ("agentName", "NULL"),
        ("phoneNumberId", column("phone_number_id")), ("phoneNumber", column("phone_number")),
        ("fromNumber", column("from_number")), ("toNumber", column("to_number")), ("direction", column("direction")),
        ("type", column("type")), ("status", column("status")), ("voice", column("voice")),
        ("startedAt", column("started_at")), ("endedAt", column("ended_at")),
        ("durationSeconds", column("duration_seconds")), ("lastTranscriptSnippet", column("last_transcript_snippet")),
        ("endReason", column("end_reason")), ("recordingUrl", "NULL"),
        ("recordingAvailable", column("recording_available")),
    ])


def named_sql(document: str, calls: Table, agents: Table) -> str:
    """A call's document as `listed_sql` writes it (the SQL `document`), with its agent's name written in (null
    when the agent was deleted)."""
    name = (f"(SELECT {agents.name}.name FROM {agents.name} WHERE {agents.name}.id = {calls.name}.agent_id "
            f"AND {agents.name}.account_id = {calls.name}.account_id)")
    return (f"CASE WHEN {calls.name}.agent_id IS NULL THEN {document} ELSE replace({document}, '{UNNAMED}', "
            f"'\"agentName\":' || json_quote({name}) || ',') END")


_NO_RECORDING = '"recordingUrl":null,'


def listed_call(row: Any, base_url: str, recording_enabled: bool, agent_names: dict[str, str]) -> Any:
    """A call of a page: `call(...)`, or where the row holds the JSON text SQLite wrote for it (`wire`), that text
    (with its recording's URL where one shows), for orjson to send as it is."""
    text = getattr(row, "wire", None)
    if text is None:
        return call(row, base_url, recording_enabled, agent_name=agent_names.get(row.agent_id or ""))
    if recording_enabled and row.recording_available:
        # the last key but one: no text value can hold this unescaped, and only `recordingAvailable` follows it
        at = text.rindex(_NO_RECORDING)
        url = orjson.dumps(f"{base_url}/v1/calls/{row.id}/recording").decode()
        text = f'{text[:at]}"recordingUrl":{url},{text[at + len(_NO_RECORDING):]}'
    return orjson.Fragment(text)


def call_page(listed: Listed, offset: int, base_url: str) -> dict[str, Any]:
    items = [listed_call(row, base_url, listed.recording, listed.agent_names) for row in listed.rows]
    return page(items, listed.total, offset)


def _echo(row: CallRow, callee: str) -> dict[str, Any]:
    return {"initialGreeting": row.initial_greeting, "systemPrompt": row.system_prompt, "variables": row.variables,
            "callee": callee, "retellCallId": None}


def placed(row: CallRow, base_url: str, agent_name: str, callee: str) -> dict[str, Any]:
    return {**call(row, base_url, False, agent_name=agent_name), **_echo(row, callee)}


def placed_detail(detail: dict[str, Any], row: CallRow, callee: str) -> dict[str, Any]:
    """A placed call that was waited for: the call as GET /v1/calls/{id} shows it, and the request's echo."""
    return {**detail, **_echo(row, callee)}


def web_created(row: CallRow, base_url: str, agent_name: str) -> dict[str, Any]:
    meta = row.call_metadata or {}
    return {**call(row, base_url, False, agent_name=agent_name), "callId": row.id,
            "accessToken": meta["accessToken"], "expiresAt": meta["tokenExpiresAt"],
            "metadata": meta.get("metadata"), "variables": row.variables}


def transcript_list(row: CallRow, rows: list[TranscriptRow]) -> dict[str, Any]:
    items = [transcript(t) for t in rows]
    return {"callId": row.id, "status": row.status, "data": items, "total": len(items)}


def ended(call_id: str, status: str, duration_seconds: int | None, end_reason: str | None) -> dict[str, Any]:
    """The `ended` event of a transcript stream."""
    return {"callId": call_id, "status": status, "durationSeconds": duration_seconds, "endReason": end_reason}
