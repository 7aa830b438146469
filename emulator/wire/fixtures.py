"""The fixture format: seed states in YAML or JSON, with IDs, phone numbers and secrets exactly as written.

    accounts:
      - key: sk_test_demo            # the API key tests use
        plan: pro                    # free | pro | scale
        balanceCents: 10000
        recordingEnabled: true
        webhookEvents: current       # current | skill-doc | all (default: the emulator's --webhook-events)
        webhook: {id: wh_project, url: "http://127.0.0.1:9000/hook", secret: whsec_fixed}
        agents:
          - id: agent_support        # any POST /v1/agents field, plus id and webhook
            name: Support Bot
            webhook: {url: "http://127.0.0.1:9000/support", secret: whsec_support, contextLimit: 5}
        numbers:
          - {id: pn_main, phoneNumber: "+14155550100", agentId: agent_support}
        conversations:
          - id: conv_1
            numberId: pn_main
            participant: "+14155559999"
            metadata: {tier: gold}
            messages:
              - {direction: inbound, body: "Hi!", at: "2026-01-05T10:00:00Z"}
        whatsapp:                    # WhatsApp Business connections (simulated)
          - id: wac_main
            status: connected        # pending until the control API marks it connected
            numbers:
              - {phoneNumber: "+14155550188", phoneNumberId: "106540352242922", connected: true, agentId: agent_support}
        calls:
          - id: call_1
            agentId: agent_support
            numberId: pn_main
            direction: inbound
            from: "+14155559999"
            startedAt: "2026-01-05T11:00:00Z"
            durationSeconds: 42
            transcripts:
              - {transcript: "Hi, where is my order?", response: "It shipped yesterday."}

Loading replaces the accounts it names (their old rows are removed first), so a fixture can be loaded
before every test. Rows are made by the same domain functions as the API's, so they behave the same.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from emulator.plans import DEFAULT_BALANCE_CENTS, PLANS
from emulator.wire.agents import AgentFields, hosted_needs_a_prompt
from emulator.wire.base import NonEmpty, Out, Whole
from emulator.wire.rules import ApiKey, IsoTime, PhoneNumber, WebUrl
from emulator.wire.webhooks import EventTypes

# An ID a fixture gives, or names: as long as an ID column holds.
FxId = Annotated[str, Field(min_length=1, max_length=64)]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True,
                              defer_build=True)


class FxWebhook(_Model):
    id: FxId | None = None
    url: WebUrl
    secret: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    context_limit: Annotated[int, Field(ge=0, le=50), Whole] = 10
    timeout: Annotated[int, Field(ge=5, le=120), Whole] = 30
    event_types: EventTypes | None = None


class FxAgent(AgentFields):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True,
                              json_schema_extra=hosted_needs_a_prompt)
    id: FxId | None = None
    name: NonEmpty
    webhook: FxWebhook | None = None


class FxNumber(_Model):
    id: FxId | None = None
    phone_number: PhoneNumber
    country: Annotated[str, Field(min_length=1, max_length=8)] | None = None
    agent_id: FxId | None = None
    type: Literal["sms", "imessage", "voice"] = "sms"
    status: Literal["active", "released"] = "active"
    created_at: IsoTime | None = None


class FxMessage(_Model):
    id: FxId | None = None
    direction: Literal["inbound", "outbound"]
    body: str = ""
    at: IsoTime | None = None
    media_urls: Annotated[list[WebUrl], Field(max_length=20)] = []
    status: Literal["received", "sent", "delivered", "failed"] | None = None  # default: received / sent


class FxConversation(_Model):
    id: FxId | None = None
    number_id: FxId
    participant: PhoneNumber
    metadata: dict[str, Any] | None = None
    messages: list[FxMessage] = []


class FxTranscript(_Model):
    id: FxId | None = None
    kind: Literal["greeting", "speech", "dtmf", "silence", "hangup", "voicemail"] = "speech"
    transcript: str = ""
    response: str | None = None
    confidence: float | None = 0.95
    at: str | None = None  # default: spread evenly over the call


class FxCall(_Model):
    id: FxId | None = None
    agent_id: FxId | None = None
    number_id: FxId
    direction: Literal["inbound", "outbound"] = "outbound"
    from_: PhoneNumber | None = Field(default=None, alias="from")
    to: PhoneNumber | None = None
    status: Literal["completed", "failed", "busy", "no-answer", "voicemail", "canceled"] = "completed"
    started_at: IsoTime | None = None
    duration_seconds: Annotated[int, Field(ge=0, le=86_400), Whole] = 0
    end_reason: Annotated[str, Field(max_length=64)] | None = None
    recording_available: bool | None = None  # default: true for a completed call
    last_transcript_snippet: Annotated[str, Field(max_length=200)] | None = None  # default: the last words said
    transcripts: list[FxTranscript] = []


class FxWhatsAppNumber(_Model):
    phone_number: str
    phone_number_id: Annotated[str, Field(pattern=r"^[0-9]{1,20}$")] | None = None
    display_name: str | None = None
    connected: bool = False  # already connected as one of the account's numbers (type whatsapp)
    number_id: FxId | None = None  # its ID then
    agent_id: FxId | None = None


class FxWhatsApp(_Model):
    id: FxId | None = None
    status: Literal["pending", "connected"] = "connected"
    waba_id: str | None = None
    business_id: str | None = None
    agent_id: FxId | None = None
    numbers: list[FxWhatsAppNumber] = []


class FxAccount(_Model):
    key: ApiKey
    id: FxId | None = None
    plan: Annotated[str, WithJsonSchema({"type": "string", "enum": list(PLANS)})] = "scale"
    balance_cents: Annotated[int, Field(ge=0, le=10**15), Whole] = DEFAULT_BALANCE_CENTS
    recording_enabled: bool = False
    webhook_events: Literal["current", "skill-doc", "all"] | None = None
    webhook: FxWebhook | None = None
    agents: list[FxAgent] = []
    numbers: list[FxNumber] = []
    conversations: list[FxConversation] = []
    calls: list[FxCall] = []
    whatsapp: list[FxWhatsApp] = []


class FixtureFile(_Model):
    accounts: list[FxAccount] = []


class FixturesLoaded(Out):
    success: bool
    loaded: dict[str, int]


def loaded(counts: dict[str, int]) -> dict[str, Any]:
    return {"success": True, "loaded": counts}
