"""Phone numbers: buying within the plan limit and balance, releasing, expiry, iMessage contact cards."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emulator import ids, phones
from emulator.clock import parse_iso
from emulator.domain import accounts, agents
from emulator.domain.lookup import owned
from emulator.domain.paging import page
from emulator.errors import Conflict, InsufficientBalance, Invalid, LimitReached, Refused, Unavailable, not_found
from emulator.plans import Plan, get_plan
from emulator.store import Account, PhoneNumber, sql
from emulator.store.models import table
from emulator.urls import check_url
from emulator.wire.numbers import BuyNumber, ContactCard, UpdateNumber

NUMBERS, ACCOUNTS = table(PhoneNumber), table(Account)
_ACTIVE_COUNT = sql.Query(select(func.count()).select_from(NUMBERS).where(  # WhatsApp lines are connected, not bought
    NUMBERS.c.account_id == bindparam("account"), NUMBERS.c.status == "active", NUMBERS.c.type != "whatsapp"))
_ACTIVE = sql.Query(select(NUMBERS).where(NUMBERS.c.phone_number == bindparam("e164"), NUMBERS.c.status == "active")
                    .limit(1))
_INSERT = sql.Insert(NUMBERS)
_GET = sql.Query(select(NUMBERS).where(NUMBERS.c.id == bindparam("id"), NUMBERS.c.account_id == bindparam("account")))
_CHARGE = sql.Query(update(ACCOUNTS).where(ACCOUNTS.c.id == bindparam("account")).values(
    balance_cents=ACCOUNTS.c.balance_cents - bindparam("price"), numbers_bought=ACCOUNTS.c.numbers_bought + 1))


def dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


async def active_count(session: AsyncSession, account_id: str) -> int:
    return int(await sql.value(session, _ACTIVE_COUNT, account=account_id))


async def slots_used(session: AsyncSession, account: Any, plan: Plan) -> int:
    """Numbers that count against the plan limit: all ever bought on a lifetime plan, else active ones."""
    if plan.lifetime_number_limit:
        return int(account.numbers_bought)
    return await active_count(session, account.id)


async def find_active(session: AsyncSession, e164: str) -> Any:
    """The active number (a row) with this E.164, if any."""
    return await sql.first(session, _ACTIVE, e164=e164)


async def dialled(session: AsyncSession, e164: str, within: Collection[str] | None = None) -> Any:
    """The active number someone outside texts or calls; `within`: only numbers of these accounts count (a
    number of another account is as unknown as one nobody has)."""
    number = await find_active(session, e164)
    if number is None or (within is not None and number.account_id not in within):
        raise not_found("Active phone number", e164)
    return number


async def _unused_number(session: AsyncSession, country: str, area_code: str | None) -> str:
    for _ in range(50):
        candidate = phones.generate(country, area_code)
        if await find_active(session, candidate) is None:
            return candidate
    raise Unavailable(f"No numbers are available in area code {area_code}; try another area code.")


def _expiry(value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        when = parse_iso(value)
    except ValueError:
        raise Invalid(f"Field 'expiresAt' must be an ISO-8601 timestamp (got {value!r}).") from None
    except OverflowError:  # before year 1 in UTC
        when = datetime.min
    if when <= now:  # a rule of the current time, not of the request's shape: 400
        raise Refused("Field 'expiresAt' must be in the future.")
    return when


async def buy(session: AsyncSession, account_id: str, req: BuyNumber, now: datetime) -> Any:
    """Check limit and balance, then provision, in the caller's (serialised) write transaction."""
    country = req.country.upper()
    if country not in phones.COUNTRIES:
        raise Invalid(f"Field 'country' must be US or CA (got {req.country!r}).")
    if req.area_code is not None:
        phones.check_area_code(req.area_code, country)
    expires_at = _expiry(req.expires_at, now)
    if req.agent_id is not None:
        await agents.get(session, account_id, req.agent_id)
    account = await accounts.row(session, account_id, lock=True)  # the limit is read and spent under the lock
    plan = get_plan(account.plan)
    used = await slots_used(session, account, plan)
    if used >= plan.number_limit:
        kind = "lifetime " if plan.lifetime_number_limit else ""
        raise LimitReached(
            f"Number limit reached: the {plan.name} plan allows {plan.number_limit} {kind}phone "
            f"number{'s' if plan.number_limit != 1 else ''} and this account has used {used}. "
            "Upgrade the plan to buy more.",
        )
    if account.balance_cents < plan.number_price_cents:
        raise InsufficientBalance(
            f"Insufficient balance: a number costs {dollars(plan.number_price_cents)} on the {plan.name} plan "
            f"and the balance is {dollars(account.balance_cents)}. Add credits to buy a number.",
        )
    number = await add(session, account_id, await _unused_number(session, country, req.area_code), now,
                       country=country, kind=req.type or "sms", agent_id=req.agent_id, external_id=req.external_id,
                       expires_at=expires_at, unused=True)
    await sql.run(session, _CHARGE, account=account_id, price=plan.number_price_cents)
    return number


async def add(session: AsyncSession, account_id: str, e164: str, now: datetime, *, country: str | None = None,
              kind: str = "sms", agent_id: str | None = None, external_id: str | None = None,
              expires_at: datetime | None = None, status: str = "active", number_id: str | None = None,
              unused: bool = False) -> Any:
    """Provision a number (a row) for the account (no limit or price: `buy` checks those; fixtures call this
    directly).

    An active number is unique across the emulator: a number another account holds is a conflict (`unused`:
    the caller has just looked, in this write)."""
    if status == "active" and not unused and await find_active(session, e164) is not None:
        raise Conflict(f"Phone number {e164} is already active in another account.")
    released = status == "released"
    return await sql.insert(
        session, _INSERT, id=number_id or ids.new_id("pn"), account_id=account_id,
        agent_id=None if released else agent_id, phone_number=e164, country=country or phones.country_of(e164),
        status=status, type=kind, external_id=external_id, expires_at=expires_at,
        attached_at=now if agent_id and not released else None, created_at=now, released_at=now if released else None,
        contact_card=None,
    )


async def list_active(session: AsyncSession, account_id: str, limit: int, offset: int) -> tuple[list[PhoneNumber], int]:
    query = (
        select(PhoneNumber)
        .where(PhoneNumber.account_id == account_id, PhoneNumber.status == "active")
        .order_by(PhoneNumber.pk.desc())
    )
    return await page(session, query, limit, offset)


def _release(number: PhoneNumber, now: datetime) -> None:
    number.status = "released"
    number.released_at = now
    number.agent_id = None
    number.attached_at = None


async def release(session: AsyncSession, account_id: str, number_id: str, now: datetime) -> PhoneNumber:
    number = await owned(session, PhoneNumber, account_id, number_id)
    if number.status == "released":
        raise Refused(f"Number '{number_id}' was already released; releasing is irreversible.")
    _release(number, now)
    await session.flush()
    return number


async def update_number(session: AsyncSession, account_id: str, number_id: str, req: UpdateNumber,
                        now: datetime) -> PhoneNumber:
    number = await owned(session, PhoneNumber, account_id, number_id)
    if number.status == "released":
        raise Refused(f"Number '{number_id}' is released and can no longer be changed.")
    fields = req.model_fields_set
    if "external_id" in fields:
        number.external_id = req.external_id
    if "expires_at" in fields:
        number.expires_at = _expiry(req.expires_at, now)
    await session.flush()
    return number


def _expired(now: datetime, account_id: str | None) -> Any:
    where = (PhoneNumber.status == "active", PhoneNumber.expires_at.is_not(None), PhoneNumber.expires_at <= now)
    return (*where, PhoneNumber.account_id == account_id) if account_id is not None else where


async def any_expired(session: AsyncSession, now: datetime, account_id: str | None = None) -> bool:
    query = select(PhoneNumber.id).where(*_expired(now, account_id)).limit(1)
    return (await session.execute(query)).first() is not None


async def release_expired(session: AsyncSession, now: datetime, account_id: str | None = None) -> list[str]:
    """Release every active number (of one account, or of every account) whose `expiresAt` is past `now`."""
    expired = list((await session.execute(select(PhoneNumber).where(*_expired(now, account_id)))).scalars())
    for number in expired:
        _release(number, now)
    await session.flush()
    return [number.id for number in expired]


async def imessage_line(session: AsyncSession, account_id: str) -> PhoneNumber | None:
    """An active iMessage number of the account, if it has one."""
    query = select(PhoneNumber).where(PhoneNumber.account_id == account_id, PhoneNumber.status == "active",
                                      PhoneNumber.type == "imessage")
    return (await session.execute(query.limit(1))).scalars().first()


async def get(session: AsyncSession, account_id: str, number_id: str) -> PhoneNumber:
    """The account's number as an entity (to change it), or the 404."""
    return await owned(session, PhoneNumber, account_id, number_id)


async def row(session: AsyncSession, account_id: str, number_id: str) -> Any:
    """The account's number as a row (read-only), or the 404."""
    found = await sql.first(session, _GET, id=number_id, account=account_id)
    if found is None:
        raise not_found("Phone number", number_id)
    return found


async def set_contact_card(session: AsyncSession, account_id: str, number_id: str,
                           card: ContactCard) -> dict[str, Any]:
    if not (card.first_name or card.display_name):
        raise Invalid("A contact card needs 'firstName' or 'displayName'.")
    if card.avatar_url is not None:
        check_url(card.avatar_url, "avatarUrl")
    number = await get(session, account_id, number_id)
    if number.status != "active":
        raise Refused(f"Number '{number.id}' is {number.status}; its contact card cannot change.")
    number.contact_card = card.model_dump(by_alias=True, exclude_none=True)
    return number.contact_card


async def remove_contact_card(session: AsyncSession, account_id: str, number_id: str) -> None:
    number = await get(session, account_id, number_id)
    number.contact_card = None
