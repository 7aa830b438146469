"""GET /: where a person who opens the base URL in a browser lands (the API docs, for now)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from emulator.api.routing import get


async def root(_request: Request) -> Response:
    # 307, not a permanent redirect: browsers must not remember it once `/` serves a page of its own.
    return RedirectResponse("/docs", status_code=307)


routes = [get("/", root, "Where the base URL leads a browser", hidden=True).route()]
