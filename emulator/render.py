"""One function per resource: a row becomes the AgentPhone JSON shape (the union of the sources)."""

from __future__ import annotations

from typing import Any

from emulator.clock import iso
from emulator.store import (
    Agent,
    Call,
    Contact,
    Conversation,
    Delivery,
    Message,
    PhoneNumber,
    Reaction,
    Transcript,
    Webhook,
)


def agent_number(number: PhoneNumber) -> dict[str, Any]:
    return {"id": number.id, "phoneNumber": number.phone_number, "status": number.status, "type": number.type}


def agent(row: Agent, numbers: list[PhoneNumber]) -> dict[str, Any]:
    attached = [agent_number(n) for n in numbers]
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "voiceMode": row.voice_mode,
        "systemPrompt": row.system_prompt,
        "beginMessage": row.begin_message,
        "voice": row.voice,
        "modelTier": row.model_tier,
        "enableMessaging": row.enable_messaging,
        "transferNumber": row.transfer_number,
        "customTools": row.custom_tools,
        "voicemailMessage": row.voicemail_message,
        "callScreeningIdentity": row.call_screening_identity,
        "callScreeningPurpose": row.call_screening_purpose,
        "sttMode": row.stt_mode,
        "ambientSound": row.ambient_sound,
        "denoisingMode": row.denoising_mode,
        "maxSilenceMs": row.max_silence_ms,
        "voiceSpeed": row.voice_speed,
        "interruptionSensitivity": row.interruption_sensitivity,
        "enableBackchannel": row.enable_backchannel,
        "language": row.language,
        "numbers": attached,
        "phoneNumbers": attached,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def number(row: PhoneNumber) -> dict[str, Any]:
    return {
        "id": row.id,
        "phoneNumber": row.phone_number,
        "country": row.country,
        "status": row.status,
        "type": row.type,
        "agentId": row.agent_id,
        "externalId": row.external_id,
        "expiresAt": iso(row.expires_at),
        "inboundCallsEnabled": row.status == "active",
        "outboundSms": "enabled" if row.status == "active" else "disabled",
        "purchasedAt": iso(row.created_at),
        "releasedAt": iso(row.released_at),
        "createdAt": iso(row.created_at),
    }


def webhook(row: Webhook) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "secret": row.secret,
        "status": row.status,
        "contextLimit": row.context_limit,
        "timeout": row.timeout,
        "agentId": row.agent_id,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def transcript(row: Transcript) -> dict[str, Any]:
    return {
        "id": row.id,
        "transcript": row.transcript,
        "response": row.response,
        "confidence": row.confidence,
        "kind": row.kind,
        **(row.details or {}),
        "createdAt": iso(row.created_at),
    }


def call(row: Call, base_url: str, recording_enabled: bool, transcripts: list[Transcript] | None = None,
         agent_name: str | None = None) -> dict[str, Any]:
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
        "lastTranscriptSnippet": row.last_transcript_snippet,
        "endReason": row.end_reason,
        "recordingUrl": f"{base_url}/v1/calls/{row.id}/recording" if show_recording else None,
        "recordingAvailable": row.recording_available,
    }
    if transcripts is not None:
        out["transcripts"] = [transcript(t) for t in transcripts]
    return out


def reaction(row: Reaction, on: Message) -> dict[str, Any]:
    """A tapback sent from our number on a message of the conversation."""
    ours = on.to_number if on.direction == "inbound" else on.from_number
    return {"id": row.id, "reactionType": row.reaction, "fromNumber": ours, "direction": "outbound",
            "createdAt": iso(row.created_at)}


def message(row: Message, reactions: list[Reaction] | None = None) -> dict[str, Any]:
    media = row.media_urls or []
    return {
        "id": row.id,
        "from": row.from_number,
        "from_": row.from_number,
        "to": row.to_number,
        "fromNumber": row.from_number,
        "toNumber": row.to_number,
        "body": row.body,
        "direction": row.direction,
        "status": row.status,
        "channel": row.channel,
        "conversationId": row.conversation_id,
        "numberId": row.phone_number_id,
        "mediaUrl": media[0] if media else None,
        "mediaUrls": media,
        "reactions": [reaction(r, row) for r in reactions or []],
        "replyTo": None,
        "receivedAt": iso(row.received_at),
    }


def conversation(row: Conversation, messages: list[Message] | None = None,
                 reactions: dict[str, list[Reaction]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "agentId": row.agent_id,
        "phoneNumberId": row.phone_number_id,
        "phoneNumber": row.phone_number,
        "participant": row.participant,
        "channel": row.channel,
        "isGroup": False,
        "groupId": None,
        "groupName": None,
        "groupIconUrl": None,
        "participants": None,
        "messageCount": row.message_count,
        "lastMessageAt": iso(row.last_message_at),
        "lastMessagePreview": row.last_message_preview,
        "metadata": row.state,
        "createdAt": iso(row.created_at),
    }
    if messages is not None:
        out["messages"] = [message(m, (reactions or {}).get(m.id)) for m in messages]
    return out


def delivery(row: Delivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "messageId": row.message_id,
        "eventType": row.event_type,
        "channel": row.channel,
        "status": row.status,
        "httpStatus": row.http_status,
        "errorMessage": row.error_message,
        "responseBody": row.response_body,
        "attemptCount": row.attempt_count,
        "latencyMs": row.latency_ms,
        "agentId": row.agent_id,
        "webhookId": row.webhook_id,
        "url": row.url,
        "test": row.test,
        "lastAttemptAt": iso(row.last_attempt_at),
        "nextRetryAt": iso(row.next_retry_at),
        "createdAt": iso(row.created_at),
    }


def page(items: list[dict[str, Any]], total: int, offset: int) -> dict[str, Any]:
    """The list envelope every paged endpoint shares: `data`, `total`, `hasMore`."""
    return {"data": items, "total": total, "hasMore": offset + len(items) < total}


def contact(row: Contact) -> dict[str, Any]:
    return {
        "id": row.id,
        "phoneNumber": row.phone_number,
        "name": row.name,
        "email": row.email,
        "notes": row.notes,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }
