"""Where the time of `GET /v1/agents/{id}` goes, measured in-process (no sockets, no HTTP server).

    python benchmarks/profile_get.py [--requests 3000] [--concurrency 16] [--top 25] [--no-profile]

Builds the emulator app (`emulator.app.create_app`, a temporary SQLite file) and the bare app of
`benchmarks/bare_app.py`, calls both as ASGI applications directly, and prints:

1. the mean cost of one request through each app, sequentially and with `--concurrency` requests in flight
   (the emulator keeps no response cache: every GET reads the database);
2. the mean cost of each stage of the emulator's handler on its own (authentication with a warm key cache,
   opening and closing a read session, the agent as SQLite writes it and as rows, rendering, JSON encoding);
3. unless `--no-profile`, the top functions of a cProfile run of the concurrent loop, by own time and by
   cumulative time.

The HTTP server (uvicorn, httptools) is the same for both apps and is left out here; `bench_rest.py` measures
it end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from starlette.requests import Request  # noqa: E402
from starlette.types import ASGIApp  # noqa: E402

from benchmarks.bare_app import create_app as create_bare_app  # noqa: E402
from emulator.api.common import authenticate, respond  # noqa: E402
from emulator.app import create_app  # noqa: E402
from emulator.config import Settings  # noqa: E402
from emulator.context import Emulator  # noqa: E402
from emulator.domain import agents  # noqa: E402
from emulator.testing import new_key  # noqa: E402
from emulator.wire import agents as render  # noqa: E402

Message = MutableMapping[str, Any]


def _scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }


async def call(app: ASGIApp, method: str, path: str, headers: dict[str, str] | None = None,
               body: bytes = b"") -> tuple[int, bytes]:
    """One request straight into an ASGI app; returns (status, body)."""
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # a client that never disconnects
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    all_headers = {"host": "127.0.0.1", **(headers or {})}
    if body:
        all_headers["content-length"] = str(len(body))
    await app(_scope(method, path, all_headers), receive, send)
    return status, b"".join(chunks)


async def mean_us(fn: Callable[[], Awaitable[object]], count: int, concurrency: int = 1) -> float:
    """Mean wall time per call in microseconds, `concurrency` calls in flight."""
    per_worker = max(1, count // concurrency)

    async def worker() -> None:
        for _ in range(per_worker):
            await fn()

    for _ in range(min(50, per_worker)):
        await fn()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.perf_counter() - started) / (per_worker * concurrency) * 1e6


def _print_stats(profile: cProfile.Profile, sort: str, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    print("\n".join(lines[start:]))


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="profile-get-") as tmp:
        app = create_app(Settings(db=str(Path(tmp) / "emulator.db")))
        state: Emulator = app.state.emulator
        await state.store.start()
        try:
            await profile(app, state, args)
        finally:
            await state.store.close()


async def profile(app: ASGIApp, state: Emulator, args: argparse.Namespace) -> None:
    bare = create_bare_app()
    key = new_key()
    auth = {"authorization": f"Bearer {key}"}
    status, body = await call(app, "POST", "/v1/agents", {**auth, "content-type": "application/json"},
                              json.dumps({"name": "Bench"}).encode())
    if status != 200:
        raise RuntimeError(f"creating the agent gave {status}: {body!r}")
    agent_id = json.loads(body)["id"]
    path = f"/v1/agents/{agent_id}"
    status, body = await call(app, "GET", path, auth)
    if status != 200:
        raise RuntimeError(f"GET {path} gave {status}: {body!r}")

    n, conc = args.requests, args.concurrency
    print(f"GET /v1/agents/{{id}} in-process, {n} requests per figure (mean wall time per request, us)\n")
    print(f"{'':44} {'sequential':>11} {f'{conc} in flight':>13}")
    for label, target, target_path, headers in (("emulator GET /v1/agents/{id} (whole app)", app, path, auth),
                                                ("bare GET /bare (whole app)", bare, "/bare", {})):
        async def whole(target: ASGIApp = target, target_path: str = target_path,
                        headers: dict[str, str] = headers) -> object:
            return await call(target, "GET", target_path, headers)

        seq = await mean_us(whole, n)
        par = await mean_us(whole, n, conc)
        print(f"{label:<44} {seq:>11,.0f} {par:>13,.0f}")
    request = Request(_scope("GET", path, {"host": "127.0.0.1", **auth}))
    request.scope["app"] = app
    account_id = await authenticate(request)
    async with state.store.read() as session:
        written = await agents.written(session, account_id, agent_id)
        row, numbers = await agents.with_numbers(session, account_id, agent_id)

    async def open_close() -> None:
        async with state.store.read():
            pass

    async def get_written() -> None:
        async with state.store.read() as session:
            await agents.written(session, account_id, agent_id)

    async def get_rows() -> None:
        async with state.store.read() as session:
            await agents.with_numbers(session, account_id, agent_id)

    async def do_render() -> None:
        render.agent(row, numbers)

    async def encode_written() -> None:
        respond(render.written(written))

    async def encode() -> None:
        respond(render.agent(row, numbers))

    stages: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("authenticate (warm key cache)", lambda: authenticate(request)),
        ("store.read() open + close, no query", open_close),
    ]
    if written is not None:  # SQLite: the handler reads the agent as the JSON text SQLite writes
        stages += [("  + agents.written (agent + numbers, JSON)", get_written),
                   ("render.written + respond (JSON)", encode_written)]
    stages += [  # the rows and the Python rendering (PostgreSQL's path, and the reference)
        ("  + agents.with_numbers (rows)", get_rows),
        ("render.agent", do_render),
        ("render.agent + respond (JSON)", encode),
    ]
    print(f"\nstages of the emulator handler on their own (us)\n\n{'':44} {'sequential':>11} {f'{conc} in flight':>13}")
    for label, fn in stages:
        seq = await mean_us(fn, n)
        par = await mean_us(fn, n, conc)
        print(f"{label:<44} {seq:>11,.1f} {par:>13,.1f}")

    if args.no_profile:
        return

    async def whole_emulator() -> object:
        return await call(app, "GET", path, auth)

    prof = cProfile.Profile()
    prof.enable()
    await mean_us(whole_emulator, n, conc)
    prof.disable()
    print(f"\ncProfile of {n} emulator GETs, {conc} in flight: top {args.top} by own time")
    _print_stats(prof, "tottime", args.top)
    print(f"\ntop {args.top} by cumulative time")
    _print_stats(prof, "cumulative", args.top)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=3000, help="requests per figure (default 3000)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--top", type=int, default=25, help="rows of each cProfile table (default 25)")
    parser.add_argument("--no-profile", action="store_true", help="timings only, no cProfile tables")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.top < 1:
        parser.error("--requests, --concurrency and --top must be at least 1")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
