"""Who may use a control route, and on which accounts.

Every control route declares one of three levels (a control route cannot be registered without one):

- `public`: anyone (health).
- `account`: acts on one account. An account key (`Authorization: Bearer sk_...`) may use it on its own
  account and that account's sub-accounts only, whatever else the request says; the admin may use it on
  any account.
- `global`: acts on every account (reset everything, the clock, everyone's faults). The admin only.

Who the admin is: a request carrying the admin token (`X-Emulator-Admin-Token`, or `Authorization: Bearer
<token>`); and, when the emulator runs without an admin token, any request that presents no credentials
(so local use needs no setup). A request that presents an account key is that account, always.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from starlette.requests import Request
from starlette.responses import Response

from emulator import clock
from emulator.api.common import STRICT_REFUSED, checked_key, emu
from emulator.api.routing import Declared, Resource
from emulator.domain import accounts
from emulator.errors import Forbidden, NotFound, Unauthorized

PUBLIC, ACCOUNT, GLOBAL = "public", "account", "global"
LEVELS = (PUBLIC, ACCOUNT, GLOBAL)
ADMIN_HEADER = "x-emulator-admin-token"


@dataclass(frozen=True)
class Caller:
    """Who sent a control request: the admin, or one account (with its sub-accounts)."""

    admin: bool
    key: str | None = None  # the account key presented
    account_id: str | None = None
    family: frozenset[str] = frozenset()  # the account and its sub-accounts

    def may_act_on(self, account_id: str | None) -> bool:
        return self.admin or (account_id is not None and account_id in self.family)


def _presented(request: Request) -> tuple[str | None, str | None]:
    """(admin token given, account key given) by the request's headers."""
    token = request.headers.get(ADMIN_HEADER) or None
    auth = (request.headers.get("authorization") or "").strip()
    scheme, _, value = auth.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        return token, None
    if value.startswith(("sk_live_", "sk_test_")):
        return token, value
    return token or value, None


async def identify(request: Request) -> Caller:
    state = emu(request)
    token, key = _presented(request)
    if key is not None:  # an account key scopes the request to its account, whatever the mode
        key = checked_key(key)
        if not state.accepts(key):
            raise Unauthorized(STRICT_REFUSED)
        account_id = await state.account_id_of(key)
        async with state.store.read() as session:
            family = await accounts.family(session, account_id)
        clock.bind(account_id)  # the request, and what it starts, run on the account's clock
        return Caller(False, key, account_id, frozenset(family))
    expected = state.settings.admin_token
    if expected is None:
        return Caller(True)
    if token is not None and hmac.compare_digest(token.encode(), expected.encode()):
        return Caller(True)
    raise Unauthorized("This control route needs the admin token (header 'X-Emulator-Admin-Token'), or an "
                       "account key ('Authorization: Bearer sk_...') for routes that act on one account.")


def caller(request: Request) -> Caller:
    """The caller the route's guard identified (set before the handler runs)."""
    found: Caller = request.state.caller
    return found


def require_admin(request: Request, what: str) -> None:
    if not caller(request).admin:
        raise Forbidden(f"An account key cannot {what}: that acts on every account and needs the admin token.")


def own_key(request: Request, key: str | None, what: str = "name another account", creates: bool = True) -> str | None:
    """The key a request acts on: an account caller's own (naming another is refused); for the admin, the key
    it names (None: every account, where the route allows that), which strict mode must accept: a control
    route that could make an account (`creates`) never does so for a key that could not use it."""
    who = caller(request)
    if who.admin:
        if key is None:
            return None
        key = checked_key(key)
        if creates and not emu(request).accepts(key):
            raise Forbidden(f"This emulator runs with --strict-keys and does not accept the key {key[:12]}...: "
                            "control routes act only on keys given at start or by a fixture loaded since; "
                            "load a fixture that defines it first.")
        return key
    if key is not None and key != who.key:
        raise Forbidden(f"An account key cannot {what}: it acts on its own account only.")
    return who.key


def check_account(request: Request, account_id: str | None, missing: NotFound) -> None:
    """Refuse (as `missing`, so other accounts' things stay invisible) a target another account owns."""
    if not caller(request).may_act_on(account_id):
        raise missing


def accounts_in_scope(request: Request) -> frozenset[str] | None:
    """The accounts a request may see: None for the admin (all of them)."""
    who = caller(request)
    return None if who.admin else who.family


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(level: str, endpoint: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        if level != PUBLIC:
            who = await identify(request)
            if level == GLOBAL and not who.admin:
                raise Forbidden("This control route acts on every account: an account key cannot use it; "
                                "it needs the admin token.")
            request.state.caller = who
        return await endpoint(request)

    guarded.__name__ = getattr(endpoint, "__name__", "control")
    guarded.__doc__ = endpoint.__doc__
    return guarded


def resource(prefix: str, routes: Iterable[Declared]) -> Resource:
    """The control routes under `prefix`, each guarded by the access level it declares."""
    guarded = []
    for declared in routes:
        level = declared.doc.access
        if level not in LEVELS:
            raise ValueError(f"Control route {declared.method} {prefix}{declared.path} must declare its access "
                             f"level ({', '.join(LEVELS)}).")
        guarded.append(replace(declared, endpoint=_guarded(level, declared.endpoint)))
    return Resource(prefix, guarded, tag="emulator")
