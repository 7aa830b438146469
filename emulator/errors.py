"""The one error type of the emulator: an HTTP status and a sentence a person understands."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}  # more keys next to `detail` (e.g. FastAPI-shaped `errors`)


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)


def invalid(detail: str) -> ApiError:
    """A well-formed request whose fields break a documented rule (type, range, enum, format)."""
    return ApiError(422, detail)


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, f"{kind} '{ident}' was not found.")


def conflict(detail: str) -> ApiError:
    return ApiError(409, detail)
