"""A2P 10DLC registration (simulated) and phone verification codes.

Registration: validated as the vendor schema says, a $25 fee from the balance, status
`pending` that turns `approved` once APPROVAL_DAYS have passed on the emulator's clock.
Verification: a 6-digit code that tests read through GET /_emulator/verifications/{id}.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import ids, phones
from emulator.api._http import authenticate, emu, parse, read_json, respond
from emulator.clock import iso, parse_iso
from emulator.domain import accounts, records
from emulator.domain.numbers import dollars
from emulator.errors import ApiError, conflict, invalid
from emulator.schemas import Registration, VerifyCheck, VerifySend
from emulator.store import Record
from emulator.validation import describe

FEE_CENTS = 2_500
APPROVAL_DAYS = 7
CODE_TTL = timedelta(minutes=10)
MAX_CHECKS = 5
STANDARD_FIELDS = ("business_name", "organization_type", "ein", "privacy_policy_url", "terms_of_service_url")


def _status(row: Record | None, now: datetime) -> dict[str, Any]:
    if row is None:
        return {"campaign_status": "none", "message": "No registration has been submitted.", "stage": None}
    approve_at = parse_iso(row.data["approveAt"])
    if now >= approve_at:
        return {"campaign_status": "approved", "message": "Registration approved: outbound SMS is enabled.",
                "stage": "approved"}
    stage = "brand_review" if now < row.created_at + (approve_at - row.created_at) / 2 else "campaign_review"
    return {"campaign_status": "pending", "message": f"Registration under review (simulated: approved at "
                                                     f"{iso(approve_at)} on the emulator clock).", "stage": stage}


def _check(req: Registration) -> None:
    phones.require_e164(req.phone_number, "phone_number")
    if req.registration_type == "standard_brand":
        missing = [name for name in STANDARD_FIELDS if not getattr(req, name)]
        if missing:
            raise invalid(f"A standard_brand registration needs: {', '.join(missing)}.")
    # The first non-blank of brand_name, business_name and the contact's name is the brand.
    names = [req.brand_name or "", req.business_name or "", f"{req.first_name} {req.last_name}"]
    brand = next((name.strip().lower() for name in names if name.strip()), "")
    if not brand:
        raise invalid("A registration needs a brand: set 'brand_name', 'business_name', or the contact's name.")
    for i, sample in enumerate(req.message_samples):
        if brand.split()[0] not in sample.lower():
            raise invalid(f"Field 'message_samples[{i}]' must include your brand name ({brand!r}).")
    if not req.opt_in_image_url.startswith("https://"):
        raise invalid("Field 'opt_in_image_url' must be a public https:// URL.")


async def register(request: Request) -> Response:
    account_id = await authenticate(request, scoped=False)
    req = await parse(request, Registration)
    _check(req)
    state = emu(request)
    now = state.clock.now()
    async with state.store.write() as session:
        account = await accounts.get(session, account_id)
        target = account
        if req.create_sub_account:
            target = accounts.new_account(None, account.plan, state.settings.default_balance_cents, now,
                                          parent_id=account.id, name=req.brand_name or req.business_name
                                          or f"{req.first_name} {req.last_name}", account_id=ids.new_id("sub"))
            session.add(target)
        else:
            status = _status(await records.latest(session, account.id, "registration"), now)["campaign_status"]
            if status in ("pending", "approved"):
                raise conflict(f"A registration is already {status} for this account.")
        if account.balance_cents < FEE_CENTS:
            raise ApiError(402, f"Insufficient balance: registration costs $25.00 and the balance is "
                                f"{dollars(account.balance_cents)}.")
        account.balance_cents -= FEE_CENTS
        data = {**req.model_dump(), "approveAt": iso(now + timedelta(days=APPROVAL_DAYS))}
        await records.add(session, target.id, "registration", "reg", data, now)
    return respond({"ok": True, "message": "Registration submitted for review.", "campaign_status": "pending",
                    "sub_account_id": target.id if req.create_sub_account else None, "fee_cents": FEE_CENTS})


async def registration_status(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.read() as session:
        row = await records.latest(session, account_id, "registration")
    return respond(_status(row, state.clock.now()))


async def registration_detail(request: Request) -> Response:
    account_id = await authenticate(request)
    state = emu(request)
    async with state.store.read() as session:
        row = await records.latest(session, account_id, "registration")
    if row is None:
        raise ApiError(404, "No registration has been submitted for this account.")
    return respond({**_status(row, state.clock.now()), "id": row.id, "registration": row.data,
                    "submittedAt": iso(row.created_at)})


async def update_registration(request: Request) -> Response:
    account_id = await authenticate(request)
    changes = await read_json(request)
    if not isinstance(changes, dict):
        raise ApiError(400, "The request body must be a JSON object of the fields to change.")
    state = emu(request)
    now = state.clock.now()
    async with state.store.write() as session:
        row = await records.latest(session, account_id, "registration")
        if row is None or _status(row, now)["campaign_status"] != "pending":
            raise ApiError(400, "Only a pending registration can be updated.")
        merged = {**row.data, **changes}
        try:
            checked = Registration.model_validate({k: v for k, v in merged.items() if k != "approveAt"})
        except ValidationError as exc:
            raise invalid(describe(exc)) from None
        _check(checked)
        records.replace(row, {**checked.model_dump(), "approveAt": row.data["approveAt"]}, now)
    return respond({**_status(row, now), "id": row.id, "registration": row.data})


async def verify_send(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, VerifySend)
    e164 = phones.normalize(req.phone_number, "phone_number")
    state = emu(request)
    now = state.clock.now()
    code = f"{ids.rng().randrange(1_000_000):06d}"
    async with state.store.write() as session:
        row = await records.add(session, account_id, "verification", "ver", {
            "phoneNumber": e164, "code": code, "status": "pending", "attempts": 0,
            "expiresAt": iso(now + CODE_TTL),
        }, now)
    return respond({"verification_id": row.id, "status": "pending", "phone_number": e164, "channel": "sms",
                    "expires_at": row.data["expiresAt"]})


async def verify_check(request: Request) -> Response:
    account_id = await authenticate(request)
    req = await parse(request, VerifyCheck)
    state = emu(request)
    now = state.clock.now()
    async with state.store.write() as session:
        row = await records.get(session, account_id, "verification", req.verification_id, "Verification")
        data = dict(row.data)
        if data["status"] == "pending":
            if now >= parse_iso(data["expiresAt"]):
                data["status"] = "expired"
            else:
                data["attempts"] += 1
                if req.code == data["code"]:
                    data["status"] = "approved"
                elif data["attempts"] >= MAX_CHECKS:
                    data["status"] = "failed"
        records.replace(row, data, now)
    return respond({"verification_id": row.id, "status": data["status"], "valid": data["status"] == "approved",
                    "attempts": data["attempts"], "phone_number": data["phoneNumber"]})


async def read_verification(request: Request) -> Response:
    """Control API: the code a phone would have received, so tests can complete the flow."""
    async with emu(request).store.read() as session:
        row = await session.scalar(select(Record).where(Record.id == request.path_params["verification_id"],
                                                        Record.kind == "verification"))
    if row is None:
        raise ApiError(404, f"Verification '{request.path_params['verification_id']}' was not found.")
    return respond({"id": row.id, **row.data})


routes = [
    Route("/v1/register", register, methods=["POST"]),
    Route("/v1/register", registration_detail, methods=["GET"]),
    Route("/v1/register", update_registration, methods=["PATCH"]),
    Route("/v1/register/status", registration_status, methods=["GET"]),
    Route("/v1/verify/send", verify_send, methods=["POST"]),
    Route("/v1/verify/check", verify_check, methods=["POST"]),
    Route("/_emulator/verifications/{verification_id}", read_verification, methods=["GET"]),
]
