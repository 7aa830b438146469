"""What every endpoint shares: authentication, body and query parsing, JSON responses."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.clock import parse_iso
from emulator.context import Emulator
from emulator.domain import accounts
from emulator.errors import ApiError, bad_request, invalid
from emulator.validation import describe, structured

M = TypeVar("M", bound=BaseModel)


def emu(request: Request) -> Emulator:
    return request.app.state.emulator


def respond(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


async def authenticate(request: Request, *, scoped: bool = True) -> str:
    """The account ID behind the request's bearer key (created on first use unless keys are strict).

    With `X-Sub-Account-Id` (and `scoped`), the ID of that sub-account of the key's account instead.
    """
    account_id = await _key_account(request)
    sub_id = request.headers.get("x-sub-account-id") if scoped else None
    if sub_id:
        async with emu(request).store.read() as session:
            owner = await accounts.parent_of(session, sub_id)
        if owner != account_id:
            raise ApiError(404, f"Sub-account '{sub_id}' was not found for this API key.")
        return sub_id
    return account_id


async def _key_account(request: Request) -> str:
    state = emu(request)
    key = accounts.key_from_header(request.headers.get("authorization"))
    if state.limiter is not None:
        wait = state.limiter.retry_after(key)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise ApiError(429, f"Rate limit exceeded: at most {state.limiter.per_second} requests per second "
                                f"per API key. Retry after {seconds} second(s).", {"Retry-After": str(seconds)})
    fault = state.faults.take_api(key, request.scope["path"]) if state.faults.api else None
    if fault is not None:
        headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
        raise ApiError(fault.status, f"Injected fault: this request was made to answer {fault.status} "
                                     "(POST /_emulator/faults).", headers)
    account_id = state.key_cache.get(key)
    if account_id is None:
        settings = state.settings
        if settings.strict_keys and key not in settings.keys and key not in state.fixture_keys:
            raise accounts.unauthorized("Invalid API key: this emulator runs with --strict-keys and was given "
                                        "neither this key nor a fixture that defines it.")
        account_id = (await state.account_of(key)).id
        state.key_cache[key] = account_id
    return account_id


async def read_json(request: Request) -> Any:
    """The body as JSON, refusing oversized and malformed bodies before anything else happens."""
    limit = emu(request).settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"The request body is larger than the {limit // 1024} KiB limit.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"The request body is larger than the {limit // 1024} KiB limit.")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}.") from None
    except RecursionError:
        raise bad_request("The request body is not acceptable JSON: it is nested too deeply.") from None


async def parse(request: Request, model: type[M], *, optional: bool = False) -> M:
    """Validate the JSON object body against a request model (camelCase names, documented ranges)."""
    data = await read_json(request)
    if data is None:
        if not optional:
            raise bad_request("The request body is empty; send a JSON object.")
        data = {}
    if not isinstance(data, dict):
        raise bad_request(f"The request body must be a JSON object, not a JSON {_json_kind(data)}.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, describe(exc), extra={"errors": structured(exc)}) from None


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), "value")


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"Query parameter '{name}' must be an integer (got {raw!r}).") from None
    if not low <= value <= high:
        raise invalid(f"Query parameter '{name}' must be between {low} and {high} (got {value}).")
    return value


def query_optional_int(request: Request, name: str, low: int, high: int) -> int | None:
    if not request.query_params.get(name):
        return None
    return query_int(request, name, 0, low, high)


def query_time(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_iso(raw)
    except (ValueError, OverflowError):
        raise invalid(f"Query parameter '{name}' must be an ISO-8601 timestamp (got {raw!r}).") from None


def query_choice(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    if raw not in choices:
        raise invalid(f"Query parameter '{name}' must be one of {', '.join(choices)} (got {raw!r}).")
    return raw


def paging(request: Request, default: int = 20, maximum: int = 100) -> tuple[int, int]:
    return query_int(request, "limit", default, 1, maximum), query_int(request, "offset", 0, 0, 1_000_000)
