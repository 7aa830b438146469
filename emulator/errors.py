"""Errors by meaning. The domain raises these; the HTTP layer (`emulator/api/common.py`) maps each kind to
its status code in one table, so no rule below the HTTP layer names a status."""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """Something the emulator refuses to do, with a sentence a person understands."""

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}  # more keys next to `detail` (e.g. FastAPI-shaped `errors`)


class Invalid(Problem):
    """A well-formed request whose fields break a documented rule (type, range, enum, format)."""


class Malformed(Problem):
    """A body or value that cannot be read at all (not JSON, not an object, empty)."""


class Refused(Problem):
    """A valid request that cannot be carried out in the current state (a released number, no webhook)."""


class Unauthorized(Problem):
    """No credentials, or credentials the emulator does not accept."""


class InsufficientBalance(Problem):
    """The account's balance does not cover the price."""


class LimitReached(Problem):
    """A plan limit is reached."""


class Forbidden(Problem):
    """The credentials are known but may not do this."""


class NotFound(Problem):
    """No such resource for this account (another account's resources do not exist for it)."""


class Conflict(Problem):
    """The request clashes with existing state (a duplicate, an already-joined call)."""


class Expired(Problem):
    """Something that was valid has run out (an access token)."""


class TooLarge(Problem):
    """A body over the size limit."""


class RateLimited(Problem):
    """Too many requests for the key; `headers` carries Retry-After."""


class Unavailable(Problem):
    """The emulator cannot provide this now (no free numbers in an area code)."""


class Injected(Problem):
    """A fault the control API armed: answered with the status it was armed with."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers=headers)
        self.status = status


def not_found(kind: str, ident: str) -> NotFound:
    return NotFound(f"{kind} '{ident}' was not found.")
