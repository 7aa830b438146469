"""A voice agent whose answers wait for the test: the call stands still at a turn until the test opens its
gate, so a test can look at a call while it is in progress without guessing how long anything takes.

`GateAgent(replies)` serves on a free loopback port. The n-th `agent.message` voice turn of any call is
answered with `replies[n]` (the last repeats): a dict is one JSON reply (`{"status": 500}` alone answers
that HTTP status), a list of dicts is streamed as NDJSON (an interim chunk first, say). `hold(n)` makes
turn n wait until `release(n)`. Other events are answered 200 `{}`. Every request is kept (`hits`); with
`secret` set, each is verified with the official SDK's `construct_event`, and failures are kept in
`failures`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentphone import construct_event

WAIT_CAP_SECONDS = 60.0  # a gate the test forgot to open still lets go, so nothing hangs for ever


@dataclass(frozen=True)
class Hit:
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


class GateAgent:
    def __init__(self, replies: list[dict[str, Any] | list[dict[str, Any]]]) -> None:
        self.replies = replies
        self.secret: str | None = None
        self.hits: list[Hit] = []
        self.failures: list[str] = []
        self.timed_out: list[int] = []  # turns whose gate the test never opened
        self._turns = 0
        self._held: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/agent"

    def hold(self, turn: int) -> None:
        self._held[turn] = threading.Event()

    def release(self, turn: int) -> None:
        self._held[turn].set()

    def voice_hits(self) -> list[Hit]:
        return [h for h in list(self.hits) if h.payload.get("event") == "agent.message"]

    def __enter__(self) -> GateAgent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for gate in self._held.values():
            gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any] | list[dict[str, Any]]]:
        with self._lock:
            self.hits.append(Hit(headers, body))
            if self.secret is not None:
                try:
                    construct_event(body, headers["x-webhook-signature"], self.secret, headers["x-webhook-timestamp"])
                except Exception as exc:  # the emulator signed it wrong: the test fails on `failures`
                    self.failures.append(f"{type(exc).__name__}: {exc}")
            payload = json.loads(body)
            if payload.get("event") != "agent.message" or payload.get("channel") != "voice":
                return -1, {}
            turn = self._turns
            self._turns += 1
        gate = self._held.get(turn)
        if gate is not None and not gate.wait(WAIT_CAP_SECONDS):
            self.timed_out.append(turn)
        return turn, self.replies[min(turn, len(self.replies) - 1)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                try:
                    self._answer()
                except OSError:  # the emulator stopped reading (a barge-in, the call ended): that is allowed
                    self.close_connection = True

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                _turn, reply = agent._answer(body, {k.lower(): v for k, v in self.headers.items()})
                if isinstance(reply, list):  # NDJSON, the body ending with the connection
                    self.close_connection = True
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-ndjson")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for line in reply:
                        self.wfile.write(json.dumps(line).encode() + b"\n")
                        self.wfile.flush()
                    return
                code = reply.get("status", 200) if set(reply) == {"status"} else 200
                data = json.dumps({"detail": "the agent failed"} if code != 200 else reply).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
