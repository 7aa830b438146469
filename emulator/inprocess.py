"""An emulator served by uvicorn on a background thread of this process (for the scenario CLI)."""

from __future__ import annotations

import threading
import time

import uvicorn

from emulator.app import create_app
from emulator.config import Settings
from emulator.testing import free_port


class InProcessEmulator:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings(db=":memory:")
        if not self.settings.port or self.settings.port == 8000:
            self.settings.port = free_port()
        config = uvicorn.Config(create_app(self.settings), host=self.settings.host, port=self.settings.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="agentphone-emulator", daemon=True)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def start(self, timeout: float = 15.0) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process emulator did not start")
            time.sleep(0.01)
        return self.base_url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> InProcessEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
