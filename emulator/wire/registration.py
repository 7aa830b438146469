"""A2P 10DLC registration on the wire (snake_case, as the vendor spells it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema

from emulator.clock import iso
from emulator.wire.base import Json, NonEmpty, SnakeModel, SnakeOut, Timestamp, Whole
from emulator.wire.rules import PhoneNumber

if TYPE_CHECKING:
    from emulator.domain.registration import Review, Submitted

UseCase = Literal[
    "account_notification", "customer_care", "delivery_notification", "fraud_alert", "higher_education",
    "marketing", "polling_voting", "public_service_announcement", "security_alert", "two_factor_authentication",
]


def _standard_brand(schema: dict[str, Any]) -> None:
    """A standard_brand registration names its business (emulator/domain/registration.py STANDARD_FIELDS)."""
    needed = ("business_name", "organization_type", "ein", "privacy_policy_url", "terms_of_service_url")
    schema["if"] = {"properties": {"registration_type": {"const": "standard_brand"}},
                    "required": ["registration_type"]}
    schema["then"] = {"required": list(needed),
                      "properties": {name: {"type": "string", "minLength": 1} for name in needed}}


class Registration(SnakeModel):
    model_config = ConfigDict(json_schema_extra=_standard_brand)

    registration_type: Literal["sole_proprietor", "standard_brand"]
    first_name: NonEmpty
    last_name: NonEmpty
    email: NonEmpty
    phone_number: PhoneNumber
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
    planned_numbers: Annotated[int, Field(ge=1, le=10_000), Whole] = 1
    description: Annotated[str, Field(min_length=40, max_length=4096)]
    use_cases: Annotated[list[UseCase], Field(min_length=1, max_length=5)]
    volume: Literal["low", "high"] = "low"
    message_samples: Annotated[list[Annotated[str, Field(min_length=20, max_length=1024)]],
                               Field(min_length=2, max_length=5)]
    consent_flow: Annotated[str, Field(min_length=40, max_length=4096)]
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None
    opt_in_image_url: Annotated[NonEmpty, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 500,
                                                         "pattern": "^https://"})]
    includes: list[Literal["links", "phone_numbers", "age_gated", "direct_lending"]] = []
    link_sample: str | None = None
    create_sub_account: bool = True



def _any_of_registration(schema: dict[str, Any]) -> None:
    schema["properties"] = Registration.model_json_schema()["properties"]


class RegistrationChanges(SnakeModel):
    """The fields of a pending registration to change: any of a registration's (the merged whole is checked)."""

    model_config = ConfigDict(json_schema_extra=_any_of_registration)


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


def status(review: Review) -> dict[str, Any]:
    return {"campaign_status": review.status, "message": review.message, "stage": review.stage}


def detail(review: Review, *, submitted: bool = True) -> dict[str, Any]:
    assert review.record is not None
    out = {**status(review), "id": review.record.id, "registration": review.record.data}
    if submitted:
        out["submittedAt"] = iso(review.record.created_at)
    return out


def submitted(result: Submitted) -> dict[str, Any]:
    return {"ok": True, "message": "Registration submitted for review.", "campaign_status": "pending",
            "sub_account_id": result.sub_account_id, "fee_cents": result.fee_cents}
