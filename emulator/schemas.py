"""Request models (pydantic, camelCase aliases, documented ranges and defaults).

Field names are the snake_case column names, so a validated model maps straight
onto a row; aliases are the wire names. Unknown fields are ignored, as the real
FastAPI server does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

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

NonEmpty = Annotated[str, Field(min_length=1, max_length=500)]
MaxSilenceMs = Annotated[int, Field(ge=10_000, le=3_600_000)]
VoiceSpeed = Annotated[float, Field(ge=0.5, le=2.0)]
Sensitivity = Annotated[float, Field(ge=0.0, le=1.0)]


class Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, strict=True, extra="ignore", frozen=True
    )


class CustomTool(Model):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="allow")
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
    description: str
    url: str
    method: Literal["GET", "POST"] = "POST"
    headers: dict[str, str] | None = None
    parameters: dict[str, Any] | None = None
    timeout_ms: Annotated[int, Field(ge=1000, le=120_000)] | None = None
    speak_during_execution: bool | None = None
    execution_message: str | None = None


class AgentFields(Model):
    """Every agent setting except `name`; all optional (PATCH semantics come from `exclude_unset`)."""

    description: str | None = None
    voice_mode: VoiceMode | None = None
    system_prompt: str | None = None
    begin_message: str | None = None
    voice: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    model_tier: ModelTier | None = None
    enable_messaging: bool | None = None
    transfer_number: str | None = None
    custom_tools: Annotated[list[CustomTool], Field(max_length=20)] | None = None
    voicemail_message: str | None = None
    call_screening_identity: str | None = None
    call_screening_purpose: str | None = None
    stt_mode: SttMode | None = None
    ambient_sound: AmbientSound | None = None
    denoising_mode: DenoisingMode | None = None
    max_silence_ms: MaxSilenceMs | None = None
    voice_speed: VoiceSpeed | None = None
    interruption_sensitivity: Sensitivity | None = None
    enable_backchannel: bool | None = None
    language: Language | None = None


class CreateAgent(AgentFields):
    name: NonEmpty


class UpdateAgent(AgentFields):
    name: NonEmpty | None = None


class AttachNumber(Model):
    number_id: Annotated[str, Field(min_length=1)]


class BuyNumber(Model):
    country: Annotated[str, Field(min_length=2, max_length=2)] = "US"
    area_code: str | None = None
    agent_id: str | None = None
    type: Literal["sms", "voice", "imessage"] | None = None
    external_id: Annotated[str, Field(max_length=200)] | None = None
    expires_at: str | None = None


class UpdateNumber(Model):
    external_id: Annotated[str, Field(max_length=200)] | None = None
    expires_at: str | None = None


class SetWebhook(Model):
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    context_limit: Annotated[int, Field(ge=0, le=50)] | None = None
    timeout: Annotated[int, Field(ge=5, le=120)] | None = None


# Fields whose stored value may be null; PATCHing the others to null is refused.
NULLABLE_AGENT_FIELDS = frozenset(
    {
        "description", "system_prompt", "begin_message", "transfer_number", "custom_tools",
        "voicemail_message", "call_screening_identity", "call_screening_purpose",
    }
)


class AccountSettings(Model):
    plan: str | None = None
    balance_cents: Annotated[int, Field(ge=0)] | None = None
    recording_enabled: bool | None = None


class ClockChange(Model):
    advance: Annotated[float, Field(ge=0)] | None = None
    set: str | None = None


class Reset(Model):
    key: str | None = None


class SnakeModel(BaseModel):
    """Bodies the vendor spells in snake_case (messages)."""

    model_config = ConfigDict(populate_by_name=True, strict=True, extra="ignore", frozen=True)


class SendMessage(SnakeModel):
    body: Annotated[str, Field(max_length=1600)] = ""
    agent_id: str | None = None
    number_id: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    media_url: str | None = None
    media_urls: Annotated[list[str], Field(max_length=20)] | None = None
    send_style: str | None = None
    reply_to_message_id: str | None = None

    def media(self) -> list[str]:
        return [*(self.media_urls or []), *([self.media_url] if self.media_url else [])]


class InboundSms(Model):
    sender: str = Field(alias="from")
    to: str
    body: Annotated[str, Field(max_length=1600)]
    media_urls: Annotated[list[str], Field(max_length=20)] | None = None


class UpdateConversation(SnakeModel):
    metadata: dict[str, Any] | None = None
    group_name: str | None = None


class WebhookTest(Model):
    sender: str | None = Field(default=None, alias="from")
    to: str | None = None
    message: Annotated[str, Field(max_length=1600)] | None = None
    channel: Literal["sms", "imessage", "mms", "whatsapp", "rcs", "voice"] | None = None


class PlaceCall(Model):
    agent_id: Annotated[str, Field(min_length=1)]
    to_number: str
    from_number_id: str | None = None
    initial_greeting: Annotated[str, Field(max_length=2000)] | None = None
    voice: Annotated[str, Field(max_length=100)] | None = None
    system_prompt: Annotated[str, Field(max_length=20_000)] | None = None
    variables: dict[str, str] | None = None
    model_tier: ModelTier | None = None
    disable_recording: bool | None = None
    call_screening_identity: str | None = None
    call_screening_purpose: str | None = None


class InboundCall(Model):
    sender: str = Field(alias="from")
    to: str
    turns: list[Any] | None = None


class FaultRequest(Model):
    key: str
    status: Literal[429, 500, 502, 503] | None = None
    webhook: Literal["bad-signature", "stale-timestamp", "tampered-body", "reused-id", "delay"] | None = None
    count: Annotated[int, Field(ge=1, le=10_000)] = 1
    path: str | None = None
    delay_seconds: Annotated[float, Field(ge=0, le=600)] = 0.0
    retry_after: Annotated[int, Field(ge=1, le=3600)] = 1


class CreateContact(Model):
    phone_number: str
    name: NonEmpty
    email: Annotated[str, Field(max_length=320)] | None = None
    notes: Annotated[str, Field(max_length=10_000)] | None = None


class UpdateContact(Model):
    phone_number: str | None = None
    name: NonEmpty | None = None
    email: Annotated[str, Field(max_length=320)] | None = None
    notes: Annotated[str, Field(max_length=10_000)] | None = None


class ContactCard(Model):
    first_name: Annotated[str, Field(max_length=100)] | None = None
    last_name: Annotated[str, Field(max_length=100)] | None = None
    display_name: Annotated[str, Field(max_length=200)] | None = None
    avatar_url: Annotated[str, Field(max_length=2048)] | None = None


class SendReaction(SnakeModel):
    reaction: Annotated[str, Field(min_length=1, max_length=32)]


class SetBackground(SnakeModel):
    image_url: Annotated[str, Field(min_length=1, max_length=2048)]


class SubAccountName(Model):
    name: NonEmpty


UseCase = Literal[
    "account_notification", "customer_care", "delivery_notification", "fraud_alert", "higher_education",
    "marketing", "polling_voting", "public_service_announcement", "security_alert", "two_factor_authentication",
]


class Registration(SnakeModel):
    registration_type: Literal["sole_proprietor", "standard_brand"]
    first_name: NonEmpty
    last_name: NonEmpty
    email: NonEmpty
    phone_number: str
    business_name: str | None = None
    brand_name: str | None = None
    organization_type: Literal["sole_proprietor", "private_corporation", "public_corporation", "llc", "partnership",
                               "non_profit", "co_op", "government"] | None = None
    contact_title: Literal["ceo", "cfo", "cto", "coo", "vp", "gm", "director", "other"] | None = None
    contact_title_other: str | None = None
    ein: str | None = None
    website_url: str | None = None
    industry: str | None = None
    business_regions: list[str] = ["usa_and_canada"]
    street_address: NonEmpty
    street_address_2: str | None = None
    city: NonEmpty
    state: NonEmpty
    zip_code: NonEmpty
    country: str = "US"
    planned_numbers: Annotated[int, Field(ge=1, le=10_000)] = 1
    description: Annotated[str, Field(min_length=40, max_length=4096)]
    use_cases: Annotated[list[UseCase], Field(min_length=1, max_length=5)]
    volume: Literal["low", "high"] = "low"
    message_samples: Annotated[list[Annotated[str, Field(min_length=20, max_length=1024)]],
                               Field(min_length=2, max_length=5)]
    consent_flow: Annotated[str, Field(min_length=40, max_length=4096)]
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None
    opt_in_image_url: NonEmpty
    includes: list[Literal["links", "phone_numbers", "age_gated", "direct_lending"]] = []
    link_sample: str | None = None
    create_sub_account: bool = True


class VerifySend(SnakeModel):
    phone_number: str


class VerifyCheck(SnakeModel):
    verification_id: NonEmpty
    code: Annotated[str, Field(min_length=1, max_length=12)]


class SipTrunkUpdate(SnakeModel):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    transfers: Literal["all", "sip", "none"] | None = None
    transfer_caller_id: Literal["transferee", "transferor"] | None = None
    origination: dict[str, Any] | None = None


class Feedback(SnakeModel):
    category: Annotated[str, Field(min_length=1, max_length=64)]
    note: Annotated[str, Field(min_length=1, max_length=10_000)]
    request_id: str | None = None
    url: str | None = None
    tags: Annotated[list[str], Field(max_length=20)] | None = None


class WebCall(Model):
    agent_id: Annotated[str, Field(min_length=1)]
    metadata: dict[str, Any] | None = None
    variables: dict[str, str] | None = None


class JoinWebCall(Model):
    access_token: str
    turns: list[Any] | None = None
