"""GET / and /_emulator/ui: the inspector, a page served from the package itself (no CDN, no build step).

The page is plain HTML, CSS and JavaScript modules under `emulator/inspector/`; it reads everything through
the `/v1` API and the control API, with the credentials the person enters, so it can see no more than they
may. The files are read once, at import, and served with a content security policy that allows this origin
only.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from emulator.api.common import path_param
from emulator.api.routing import Resource, get
from emulator.errors import NotFound

HERE = Path(__file__).resolve().parent.parent / "inspector"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
POLICY = ("default-src 'self'; img-src 'self' data: http: https:; media-src 'self'; connect-src 'self'; "
          "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'")


def _assets(root: Path) -> dict[str, tuple[bytes, str]]:
    """Every file of the inspector by its path under the root, with its content type."""
    found: dict[str, tuple[bytes, str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in TYPES:
            found[path.relative_to(root).as_posix()] = (path.read_bytes(), TYPES[path.suffix])
    return found


ASSETS = _assets(HERE)


def _serve(name: str) -> Response:
    found = ASSETS.get(name)
    if found is None:
        raise NotFound(f"The inspector has no file '{name}'.")
    body, media = found
    return Response(body, media_type=media, headers={"Cache-Control": "no-cache", "Content-Security-Policy": POLICY,
                                                     "X-Content-Type-Options": "nosniff"})


async def page(_request: Request) -> Response:
    return _serve("index.html")


async def asset(request: Request) -> Response:
    return _serve(path_param(request, "name"))


routes = [
    get("/", page, "The inspector", hidden=True).route(),
    Resource("/_emulator/ui", [
        get("", page, "The inspector", hidden=True),
        get("/{name:path}", asset, "A file of the inspector", hidden=True),
    ], tag="inspector"),
]
