"""Response models: the JSON the emulator sends, field for field (pydantic, camelCase aliases).

These describe what `emulator/render.py` and the handlers in `emulator/api/` emit; the OpenAPI
document (`GET /openapi.json`) is generated from them, and the conformance tests validate every
real response against them. `extra="forbid"` and required fields keep the two in step: a field
added to, or dropped from, a response without the same change here fails those tests.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.alias_generators import to_camel

# Every timestamp the emulator sends: ISO-8601 UTC with milliseconds and a trailing Z.
Timestamp = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
                                 json_schema_extra={"format": "date-time"})]
Json = dict[str, Any]


class Out(BaseModel):
    """camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", strict=True)


class SnakeOut(BaseModel):
    """snake_case on the wire (the vendor spells messaging and registration bodies this way)."""

    model_config = ConfigDict(extra="forbid", strict=True)


T = TypeVar("T")


class Page(Out, Generic[T]):
    """The list envelope: the skill doc's `{data, total}` plus the SDK's `hasMore`."""

    data: list[T]
    total: int
    has_more: bool

    @classmethod
    def model_parametrized_name(cls, params: tuple[type[Any], ...]) -> str:
        return f"{params[0].__name__}List"


class Error(Out):
    """Every 4xx and 5xx: a human sentence in `detail`; 422s add FastAPI-shaped `errors`."""

    detail: str
    errors: list[Json] | None = None


class Deleted(Out):
    success: bool
    id: str
    message: str | None = None


class Success(Out):
    success: bool


# --- agents --------------------------------------------------------------------------------------------


class AgentNumber(Out):
    id: str
    phone_number: str
    status: str
    type: str


class Agent(Out):
    id: str
    name: str
    description: str | None
    voice_mode: Literal["webhook", "hosted"]
    system_prompt: str | None
    begin_message: str | None
    voice: str
    model_tier: Literal["turbo", "balanced", "max"]
    enable_messaging: bool
    transfer_number: str | None
    custom_tools: list[Json] | None
    voicemail_message: str | None
    call_screening_identity: str | None
    call_screening_purpose: str | None
    stt_mode: Literal["fast", "accurate"]
    ambient_sound: Literal["none", "office", "coffee-shop", "outdoor"]
    denoising_mode: Literal["noise-cancellation", "noise-and-background-speech-cancellation"]
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
    voice_id: str
    name: str
    provider: str
    gender: str


# --- numbers -------------------------------------------------------------------------------------------


class PhoneNumber(Out):
    id: str
    phone_number: str
    country: str
    status: str
    type: str
    agent_id: str | None
    external_id: str | None
    expires_at: Timestamp | None
    inbound_calls_enabled: bool
    outbound_sms: Literal["enabled", "disabled"]
    purchased_at: Timestamp
    released_at: Timestamp | None
    created_at: Timestamp


class DetachedNumber(Out):
    success: bool
    message: str
    agent_id: str
    number_id: str
    number: PhoneNumber


class ReleasedNumber(Out):
    success: bool
    id: str
    phone_number: str
    status: str
    message: str
    released_at: Timestamp | None


class AvailableNumber(Out):
    phone_number: str
    city: str | None
    state: str | None
    rate_center: str | None
    area_code: str
    country: str


class AvailableNumbers(Out):
    data: list[AvailableNumber]
    total: int


class NumberLookup(Out):
    phone_number: str
    line_type: str
    country: str | None
    rcs_enabled: bool
    valid: bool
    owned_by_account: bool


class NumberLookups(Out):
    data: list[NumberLookup]


class ContactCardInfo(Out):
    first_name: str | None
    last_name: str | None
    display_name: str | None
    has_avatar: bool


# --- webhooks ------------------------------------------------------------------------------------------


class Webhook(Out):
    id: str
    url: str
    secret: str
    status: str
    context_limit: int
    timeout: int
    agent_id: str | None
    created_at: Timestamp
    updated_at: Timestamp


class Delivery(Out):
    id: str
    message_id: str | None
    event_type: str
    channel: str | None
    status: Literal["pending", "success", "failed"]
    http_status: int | None
    error_message: str | None
    response_body: str | None
    attempt_count: int
    latency_ms: float | None
    agent_id: str | None
    webhook_id: str | None
    url: str | None
    test: bool
    last_attempt_at: Timestamp | None
    next_retry_at: Timestamp | None
    created_at: Timestamp


class Deliveries(RootModel[list[Delivery]]):
    """An agent's delivery log: a bare array, as the vendor sends it."""


class DeliveryPage(Out):
    """The vendor's `{items, total, offset, limit}` plus the shared `data` and `hasMore`."""

    items: list[Delivery]
    data: list[Delivery]
    total: int
    offset: int
    limit: int
    has_more: bool


class StatusCounts(Out):
    total: int
    success: int
    failed: int
    pending: int


class HourCounts(StatusCounts):
    hour: Timestamp


class AllTimeStats(StatusCounts):
    success_rate: float


class DeliveryStats(AllTimeStats):
    by_event_type: dict[str, StatusCounts]
    by_hour: list[HourCounts]
    hours: int


class WebhookTestResult(Out):
    success: bool
    delivered: bool
    delivery_id: str
    webhook_id: str
    url: str
    event: str
    channel: str
    agent_id: str | None
    http_status: int | None
    latency_ms: float | None
    response_snippet: str | None
    error: str | None


# --- calls ---------------------------------------------------------------------------------------------


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
    """POST /v1/calls echoes the request; `callee` says who answers (script, magic, generated)."""

    initial_greeting: str | None
    system_prompt: str | None
    variables: dict[str, str] | None
    callee: str


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


# --- conversations and messages ------------------------------------------------------------------------


class Message(Out):
    """`from`/`to` (skill doc), `from_` (vendor schema), `fromNumber`/`toNumber` (conversations)."""

    id: str
    sender: str = Field(alias="from")
    from_: str = Field(alias="from_")
    to: str
    from_number: str
    to_number: str
    body: str
    direction: Literal["inbound", "outbound"]
    status: str
    channel: str
    conversation_id: str
    number_id: str
    media_url: str | None
    media_urls: list[str]
    reactions: list[Json]
    reply_to: Json | None
    received_at: Timestamp


class Conversation(Out):
    id: str
    agent_id: str | None
    phone_number_id: str
    phone_number: str
    participant: str
    channel: str
    is_group: bool
    group_id: str | None
    group_name: str | None
    group_icon_url: str | None
    participants: list[Json] | None
    message_count: int
    last_message_at: Timestamp
    last_message_preview: str
    metadata: Json | None
    created_at: Timestamp


class ConversationDetail(Conversation):
    messages: list[Message]


class SentMessage(SnakeOut):
    """The vendor's SendMessageResponse, plus the stored message in the camelCase shape."""

    id: str
    status: str
    channel: str
    from_number: str
    to_number: str
    body: str
    conversation_id: str
    media_urls: list[str]
    reply_to_message_id: str | None
    reply_parent_unresolved: bool | None
    message: Message


class Reaction(SnakeOut):
    id: str
    reaction_type: str
    message_id: str
    channel: str


class Typing(Out):
    conversation_id: str
    channel: str
    status: str


class Background(Out):
    conversation_id: str
    channel: str
    has_background: bool
    background_id: str | None
    background_version: int | None
    changed: bool


# --- usage ---------------------------------------------------------------------------------------------


class PlanLimits(Out):
    numbers: int
    messages_per_month: int
    voice_minutes_per_month: int
    max_call_duration_minutes: int
    concurrent_calls: int


class PlanInfo(Out):
    name: str
    number_limit: int
    limits: PlanLimits


class NumberSlots(Out):
    used: int
    limit: int
    remaining: int


class UsageStats(Out):
    total_messages: int
    messages_last24h: int = Field(alias="messagesLast24h")
    messages_last7d: int = Field(alias="messagesLast7d")
    messages_last30d: int = Field(alias="messagesLast30d")
    total_calls: int
    calls_last24h: int = Field(alias="callsLast24h")
    calls_last7d: int = Field(alias="callsLast7d")
    calls_last30d: int = Field(alias="callsLast30d")
    minutes_last30d: int = Field(alias="minutesLast30d")
    sms_segments_last30d: int = Field(alias="smsSegmentsLast30d")
    total_webhook_deliveries: int
    successful_webhook_deliveries: int
    failed_webhook_deliveries: int


class Usage(Out):
    plan: PlanInfo
    numbers: NumberSlots
    stats: UsageStats
    balance_cents: int
    period_start: Timestamp
    period_end: Timestamp
    report_generated_at: Timestamp


class UsagePoint(Out):
    messages: int
    calls: int
    webhooks: int


class DailyPoint(UsagePoint):
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class MonthlyPoint(UsagePoint):
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]


class DailyUsage(Out):
    data: list[DailyPoint]
    days: int


class MonthlyUsage(Out):
    data: list[MonthlyPoint]
    months: int


class NumberUsageItem(Out):
    number_id: str
    phone_number: str
    country: str
    status: str
    agent_id: str | None
    agent_name: str | None
    messages: int
    calls: int


class NumberUsage(Out):
    data: list[NumberUsageItem]


class AgentUsageItem(Out):
    agent_id: str | None
    agent_name: str
    messages: int
    calls: int
    total_seconds: int
    is_orphan: bool


class AgentUsage(Out):
    data: list[AgentUsageItem]
    period: Literal["week", "month", "year"]
    period_start: Timestamp
    period_end: Timestamp
    tz: str


# --- contacts ------------------------------------------------------------------------------------------


class Contact(Out):
    id: str
    phone_number: str
    name: str
    email: str | None
    notes: str | None
    created_at: Timestamp
    updated_at: Timestamp


class CapabilityFlags(Out):
    imessage: bool
    sms: bool


class ContactCapabilities(Out):
    phone_number: str
    capabilities: CapabilityFlags
    checked_at: Timestamp


# --- sub-accounts, registration, verification ----------------------------------------------------------


class SubAccount(Out):
    id: str
    name: str | None
    parent_id: str | None
    plan: str
    balance_cents: int
    created_at: Timestamp


class CampaignStatus(SnakeOut):
    campaign_status: Literal["none", "pending", "approved"]
    message: str
    stage: str | None


class RegistrationDetail(CampaignStatus):
    id: str
    registration: Json
    submitted_at: Timestamp | None = Field(default=None, alias="submittedAt")


class RegistrationSubmitted(SnakeOut):
    ok: bool
    message: str
    campaign_status: str
    sub_account_id: str | None
    fee_cents: int


class VerificationSent(SnakeOut):
    verification_id: str
    status: str
    phone_number: str
    channel: str
    expires_at: Timestamp


class VerificationChecked(SnakeOut):
    verification_id: str
    status: Literal["pending", "approved", "failed", "expired"]
    valid: bool
    attempts: int
    phone_number: str


# --- SIP trunks, location, feedback --------------------------------------------------------------------


class SipCredential(Out):
    username: str
    password: str | None = None  # shown only when created or rotated
    password_last4: str
    credential_list_name: str


class SipTrunk(Out):
    id: str
    name: str
    provider: str
    encrypted: bool
    transport: str
    media_encryption: str
    transfers: Literal["all", "sip", "none"]
    transfer_caller_id: Literal["transferee", "transferor"]
    termination_sip_uri: str
    origination_uris: list[Any]
    allowed_ips: list[Any]
    proxy_ips: list[str]
    credentials: list[SipCredential]
    created_at: Timestamp
    updated_at: Timestamp


class SipTrunks(Out):
    data: list[SipTrunk]
    total: int


class Location(Out):
    phone_number: str
    latitude: float | None
    longitude: float | None
    status: Literal["ok", "unknown"]
    city: str | None = None
    region: str | None = None
    last_updated: int


class LocationRefresh(Out):
    success: bool
    poll_after_seconds: int


class FeedbackReceived(Out):
    success: bool
    id: str
    received_at: Timestamp


# --- /_emulator control API ----------------------------------------------------------------------------


class Health(Out):
    status: str
    version: str
    uptime_seconds: float
    database: str
    clock: Timestamp


class ClockState(Out):
    now: Timestamp
    offset_seconds: float


class ResetDone(Out):
    success: bool
    reset: str
    elapsed_ms: float


class AccountState(Out):
    id: str
    key: str | None
    plan: str
    balance_cents: int
    recording_enabled: bool
    numbers_bought: int
    created_at: Timestamp


class FixturesLoaded(Out):
    success: bool
    loaded: dict[str, int]


class FaultAdded(Out):
    success: bool
    fault: Json


class Faults(Out):
    api: list[Json]
    webhook: list[Json]


class DeliveryRef(Out):
    id: str
    event_type: str
    status: str


class InboundSmsReceived(Out):
    message: Message
    conversation: Conversation
    account_id: str
    deliveries: list[DeliveryRef]


class InboundCallPlaced(Call):
    account_id: str


class CalleeScript(Out):
    number: str
    account_id: str | None  # the account the script is scoped to; null: every account
    turns: list[Json]


class MagicNumber(Out):
    number: str
    status: str
    description: str


class Callees(Out):
    data: list[CalleeScript]
    magic_numbers: list[MagicNumber]


class CalleeRemoved(Out):
    success: bool
    number: str


class Verification(Out):
    id: str
    phone_number: str
    code: str
    status: str
    attempts: int
    expires_at: Timestamp


class FeedbackLog(Out):
    data: list[Json]


AgentList = Page[Agent]
VoiceList = Page[Voice]
PhoneNumberList = Page[PhoneNumber]
MessageList = Page[Message]
CallList = Page[Call]
ConversationList = Page[Conversation]
ContactList = Page[Contact]
SubAccountList = Page[SubAccount]
