"""The server freezes what start-up built (emulator/heap.py), so full collections stop walking it."""

from __future__ import annotations

import asyncio
import gc
import socket

import uvicorn
from starlette.applications import Starlette

from emulator import heap
from emulator.serve import _Server


def test_freezing_moves_every_tracked_object_out_of_the_collected_generations() -> None:
    gc.unfreeze()
    kept = [[n] for n in range(1000)]  # tracked containers made before the freeze
    try:
        frozen = heap.freeze_start_up()
        assert frozen >= len(kept)  # (frozen objects are still freed when nothing refers to them any more)
        assert all(not any(obj is item for item in kept) for obj in gc.get_objects())  # no longer walked
    finally:
        gc.unfreeze()


def test_the_server_freezes_its_heap_once_it_is_ready_and_not_before() -> None:
    gc.unfreeze()
    seen_at_ready: list[int] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(Starlette(), log_level="warning", lifespan="off")
    server = _Server(config, on_ready=lambda: seen_at_ready.append(gc.get_freeze_count()))

    async def start_and_stop() -> int:
        config.load()  # as uvicorn's own `serve` does before its start-up
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        frozen = gc.get_freeze_count()
        await server.shutdown()
        return frozen

    try:
        frozen = asyncio.run(start_and_stop())
        assert seen_at_ready == [0]  # the banner is printed first: the freeze adds nothing to start-up
        assert frozen > 1000
    finally:
        gc.unfreeze()
        sock.close()
