"""The baseline for the REST benchmark: a bare Starlette app with one JSON endpoint.

It is served exactly as the emulator is (`uvicorn.Config(app, host, port, log_level, lifespan="on")` and
`Server.run()`: one worker, uvicorn's default loop and HTTP implementations), so the difference between the
two is the emulator's own per-request work.

    python benchmarks/bare_app.py --port 8001
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PAYLOAD = {"id": "bare", "status": "ok", "count": 1}


async def bare(_request: Request) -> Response:
    return JSONResponse(PAYLOAD)


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app() -> Starlette:
    return Starlette(routes=[Route("/bare", bare, methods=["GET"]), Route("/health", health, methods=["GET"])])


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description="Serve the bare baseline app with uvicorn.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    config = uvicorn.Config(create_app(), host=args.host, port=args.port, log_level=args.log_level, lifespan="on")
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
