"""The HTTP layer every endpoint shares: errors to status codes, authentication, body and query parsing,
JSON responses."""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from emulator import clock
from emulator.api import nul
from emulator.api.routing import LIMIT, OFFSET, Query
from emulator.context import Emulator
from emulator.domain import accounts
from emulator.errors import (
    Conflict,
    Expired,
    Forbidden,
    Injected,
    InsufficientBalance,
    Invalid,
    LimitReached,
    Malformed,
    NotFound,
    Problem,
    RateLimited,
    Refused,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from emulator.validation import describe, structured

M = TypeVar("M", bound=BaseModel)

# Each kind of problem and the status it answers with: the one place statuses are decided. Field-rule
# errors (`Invalid`) answer 400 as the skill doc documents; `--validation-status 422` makes them FastAPI's 422.
STATUS: dict[type[Problem], int] = {
    Malformed: 400,
    Refused: 400,
    Unauthorized: 401,
    InsufficientBalance: 402,
    LimitReached: 403,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Expired: 410,
    TooLarge: 413,
    Invalid: 400,
    RateLimited: 429,
    Unavailable: 503,
}


VALIDATION_STATUSES = (400, 422)


def status_of(problem: Problem, validation_status: int = 400) -> int:
    """The status `problem` answers with; `validation_status` is the emulator's setting for `Invalid`."""
    if isinstance(problem, Injected):
        return problem.status
    if isinstance(problem, Invalid):
        return validation_status
    for kind in type(problem).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def dumps(data: Any) -> bytes:
    """JSON as every response sends it: compact, UTF-8 (orjson; the standard library for what orjson refuses,
    such as integers past 64 bits)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class JsonResponse(Response):
    """A JSON body already encoded: the headers are built directly, with nothing to look up."""

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.body = body
        self.background = None
        raw = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        if headers:
            raw.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items())
        self.raw_headers = raw


def error_response(status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return JsonResponse(dumps({"detail": detail, **extra}), status, headers)


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    headers = dict(exc.headers)
    if isinstance(exc, Unauthorized):
        headers.setdefault("WWW-Authenticate", "Bearer")
    status = status_of(exc, emu(request).settings.validation_status)
    return error_response(status, exc.detail, headers, **exc.extra)


def emu(request: Request) -> Emulator:
    """The emulator serving the request (the app puts it in the scope; a bare Request falls back to the app)."""
    state: Emulator | None = request.scope.get("emulator")
    if state is None:
        state = request.app.state.emulator
    return state


def respond(data: Any, status: int = 200) -> Response:
    return JsonResponse(dumps(data), status)


def no_content() -> Response:
    return Response(status_code=204)


# --- who is calling ------------------------------------------------------------------------------------


def key_from_header(header: str | None) -> str:
    """The API key of an `Authorization: Bearer <key>` header."""
    if header is None or not header.strip():
        raise Unauthorized("Missing API key: send an 'Authorization: Bearer <your API key>' header.")
    scheme, _, key = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(f"The Authorization header must use the Bearer scheme, not '{scheme}'.")
    key = key.strip()
    if not key:
        raise Unauthorized("The Authorization header has an empty API key after 'Bearer'.")
    return checked_key(key)


STRICT_REFUSED = ("Invalid API key: this emulator runs with --strict-keys and was given neither this key nor a "
                  "fixture that defines it.")


def checked_key(key: str) -> str:
    """A key given anywhere (header, control route, fixture), refused unless it has the real shape."""
    if not accounts.is_key(key):
        raise Unauthorized("Invalid API key: AgentPhone keys look like sk_live_... or sk_test_....")
    return key


def header(request: Request, name: bytes) -> str | None:
    """A request header's first value (`name` in lower case), read from the ASGI scope as Starlette's
    `request.headers.get` reads it, without building the headers object on every request."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def authenticate(request: Request, *, scoped: bool = True) -> str:
    """The account ID behind the request's bearer key (created on first use unless keys are strict).

    With `X-Sub-Account-Id` (and `scoped`), the ID of that sub-account of the key's account instead.
    """
    account_id = await _key_account(request)
    sub_id = header(request, b"x-sub-account-id") if scoped else None
    if sub_id:
        async with emu(request).store.read() as session:
            owner = await accounts.parent_of(session, sub_id)
        if owner != account_id:
            raise NotFound(f"Sub-account '{sub_id}' was not found for this API key.")
        account_id = sub_id
    faults = emu(request).faults
    outage = faults.outage(account_id) if faults.outages else None
    if outage is not None:
        raise Injected(outage, f"Injected fault: the API answers {outage} while the agent answers this call turn "
                               "(the turn's 'api-error' fault).")
    clock.bind(account_id)  # the request, and what it starts, run on the account's clock
    return account_id


async def _key_account(request: Request) -> str:
    state = emu(request)
    key = key_from_header(header(request, b"authorization"))
    if state.limiter is not None and (wait := await state.rate_limited(key)) is not None:
        seconds = max(1, math.ceil(wait))
        raise RateLimited(f"Rate limit exceeded: at most {state.limiter.per_second} requests per second "
                          f"per API key. Retry after {seconds} second(s).", headers={"Retry-After": str(seconds)})
    fault = await state.take_api_fault(key, request.scope["path"]) if state.faults.armed else None
    if fault is not None:
        headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
        raise Injected(fault.status, f"Injected fault: this request was made to answer {fault.status} "
                                     "(POST /_emulator/faults).", headers=headers)
    account_id = state.key_cache.get(key)
    if account_id is None:
        if not state.accepts(key):
            raise Unauthorized(STRICT_REFUSED)
        account_id = await state.account_id_of(key)
        state.key_cache[key] = account_id
    return account_id


# --- bodies --------------------------------------------------------------------------------------------


async def read_body(request: Request) -> bytes:
    """The raw body, refused when it is over the size limit (read straight from the ASGI messages, and kept
    on the request as Starlette's `request.body()` would keep it)."""
    limit = emu(request).settings.max_body_bytes
    declared = header(request, b"content-length")
    too_large = f"The request body is larger than the {limit // 1024} KiB limit."
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(too_large)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(too_large)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    request._body = body
    return body


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass  # the standard library decides what orjson refuses (NaN, huge integers, a BOM) and words the error
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"The request body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise Malformed("The request body is not acceptable JSON: it is nested too deeply.") from None


async def read_object(request: Request, *, optional: bool = False, own_nul_check: bool = False) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` where the body is optional. Any other JSON value
    (`null` included) is refused, so a body that says nothing is never taken as "everything". A NUL in any of
    its strings is refused (emulator/api/nul.py) unless `own_nul_check`: the caller refuses it in its own words."""
    raw = await read_body(request)
    if not raw.strip(b" \t\n\r"):  # JSON's own whitespace: anything else is a body to read
        if not optional:
            raise Malformed("The request body is empty; send a JSON object.")
        return {}
    data = _json(raw)
    if not own_nul_check:
        nul.check_json(raw, data)
    if not isinstance(data, dict):
        raise Malformed(f"The request body must be a JSON object, not a JSON {json_kind(data)}.")
    return data


def validate(model: type[M], data: dict[str, Any]) -> M:
    """Validate a JSON object against a request model (camelCase names, documented ranges)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(describe(exc), extra={"errors": structured(exc)}) from None


async def parse(request: Request, model: type[M], *, optional: bool = False) -> M:
    return validate(model, await read_object(request, optional=optional))


def json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return kinds.get(type(value), "value")


# --- query parameters ----------------------------------------------------------------------------------


def paging(request: Request, limit: Query = LIMIT) -> tuple[int, int]:
    """(limit, offset) of a paged list; each list declares its own `limit` (default and maximum)."""
    return int(limit.read(request)), int(OFFSET.read(request))


def path_param(request: Request, name: str) -> str:
    return str(request.path_params[name])
