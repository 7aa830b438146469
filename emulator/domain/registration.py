"""A2P 10DLC registration, simulated: validated as the vendor schema says, a $25 fee from the balance, and a
status that is `pending` until APPROVAL_DAYS have passed on the emulator's clock, then `approved`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.clock import iso, parse_iso
from emulator.domain import accounts, records
from emulator.domain.numbers import dollars
from emulator.errors import Conflict, InsufficientBalance, Invalid, NotFound, Problem, Refused
from emulator.store import Record
from emulator.validation import describe
from emulator.wire.registration import Registration

FEE_CENTS = 2_500
APPROVAL_DAYS = 7
KIND = "registration"
STANDARD_FIELDS = ("business_name", "organization_type", "ein", "privacy_policy_url", "terms_of_service_url")


@dataclass(frozen=True)
class Review:
    """Where a registration stands at a moment of the emulator's clock."""

    status: str  # none | pending | approved
    message: str
    stage: str | None
    record: Record | None


@dataclass(frozen=True)
class Submitted:
    sub_account_id: str | None
    fee_cents: int


def review(row: Record | None, now: datetime) -> Review:
    if row is None:
        return Review("none", "No registration has been submitted.", None, None)
    approve_at = parse_iso(row.data["approveAt"])
    if now >= approve_at:
        return Review("approved", "Registration approved: outbound SMS is enabled.", "approved", row)
    stage = "brand_review" if now < row.created_at + (approve_at - row.created_at) / 2 else "campaign_review"
    return Review("pending", f"Registration under review (simulated: approved at {iso(approve_at)} on the "
                             "emulator clock).", stage, row)


def _check(req: Registration, kind: type[Problem] = Invalid) -> None:
    """Rules across fields; `kind` is the problem a broken one raises (Refused where stored fields take part)."""
    phones.require_e164(req.phone_number, "phone_number")
    if req.registration_type == "standard_brand":
        missing = [name for name in STANDARD_FIELDS if not getattr(req, name)]
        if missing:
            raise kind(f"A standard_brand registration needs: {', '.join(missing)}.")
    # The first non-blank of brand_name, business_name and the contact's name is the brand.
    names = [req.brand_name or "", req.business_name or "", f"{req.first_name} {req.last_name}"]
    brand = next((name.strip().lower() for name in names if name.strip()), "")
    if not brand:
        raise Refused("A registration needs a brand: set 'brand_name', 'business_name', or the contact's name.")
    for i, sample in enumerate(req.message_samples):
        if brand.split()[0] not in sample.lower():
            raise Refused(f"Field 'message_samples[{i}]' must include your brand name ({brand!r}).")
    if not req.opt_in_image_url.startswith("https://"):
        raise Invalid("Field 'opt_in_image_url' must be a public https:// URL.")


async def submit(session: AsyncSession, account_id: str, req: Registration, balance_cents: int,
                 now: datetime) -> Submitted:
    """Charge the fee and file the registration (in a new sub-account unless `create_sub_account` is false;
    `balance_cents` is the balance such a sub-account starts with)."""
    _check(req)
    account = await accounts.get(session, account_id, lock=True)
    target_id = account.id
    if req.create_sub_account:
        name = req.brand_name or req.business_name or f"{req.first_name} {req.last_name}"
        target = accounts.new_account(None, account.plan, balance_cents, now, parent_id=account.id, name=name,
                                      account_id=ids.new_id("sub"))
        session.add(target)
        target_id = target.id
    else:
        status = review(await records.latest(session, account.id, KIND), now).status
        if status in ("pending", "approved"):
            raise Conflict(f"A registration is already {status} for this account.")
    if account.balance_cents < FEE_CENTS:
        raise InsufficientBalance(f"Insufficient balance: registration costs $25.00 and the balance is "
                                  f"{dollars(account.balance_cents)}.")
    account.balance_cents -= FEE_CENTS
    data = {**req.model_dump(), "approveAt": iso(now + timedelta(days=APPROVAL_DAYS))}
    await records.add(session, target_id, KIND, "reg", data, now)
    return Submitted(target_id if req.create_sub_account else None, FEE_CENTS)


async def current(session: AsyncSession, account_id: str, now: datetime, *, required: bool = False) -> Review:
    result = review(await records.latest(session, account_id, KIND), now)
    if required and result.record is None:
        raise NotFound("No registration has been submitted for this account.")
    return result


async def amend(session: AsyncSession, account_id: str, changes: dict[str, Any], now: datetime) -> Review:
    """Change fields of a pending registration; the merged whole is validated again."""
    row = await records.latest(session, account_id, KIND)
    if row is None or review(row, now).status != "pending":
        raise Refused("Only a pending registration can be updated.")
    merged = {**row.data, **changes}
    try:
        checked = Registration.model_validate({k: v for k, v in merged.items() if k != "approveAt"})
    except ValidationError as exc:
        own = any(error["loc"] and error["loc"][0] in changes for error in exc.errors())
        raise (Invalid if own else Refused)(describe(exc)) from None
    _check(checked, Refused)
    records.replace(row, {**checked.model_dump(), "approveAt": row.data["approveAt"]}, now)
    return review(row, now)
