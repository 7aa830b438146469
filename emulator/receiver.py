"""A local webhook receiver for tests: records what arrives, answers what it is told to.

    with WebhookReceiver(secret="whsec_...") as hook:
        hook.reply({"text": "Hello!"})                       # JSON for every request
        hook.reply_ndjson([{"text": "One moment", "interim": True}, {"text": "Done."}], delay=0.1)
        ...
        hook.wait_for(2)
        assert hook.requests[0].event["event"] == "agent.message"

When a secret is given, every request's signature is checked with the official SDK's rules
(HMAC-SHA256 over "{timestamp}.{body}"); `hook.bad_signatures` lists the ones that failed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulator.webhooks.signing import signature


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    content_type: str = "text/plain"
    chunks: list[bytes] = field(default_factory=list)  # streamed, `delay` seconds apart
    delay: float = 0.0


Responder = Callable[[Received], Answer]


class WebhookReceiver:
    def __init__(self, secret: str | None = None, host: str = "127.0.0.1") -> None:
        self.secret = secret
        self.requests: list[Received] = []
        self.bad_signatures: list[Received] = []
        self._answer: Responder = lambda _received: Answer()
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("content-length") or 0)
                received = Received(self.path, dict(self.headers.items()), self.rfile.read(length), time.time())
                receiver._record(received)
                answer = receiver._answer(received)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                if answer.chunks:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i, chunk in enumerate(answer.chunks):
                        if i and answer.delay:
                            time.sleep(answer.delay)
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}/webhook"

    def _record(self, received: Received) -> None:
        if self.secret is not None:
            stamp = received.headers.get("X-Webhook-Timestamp", "")
            expected = signature(self.secret, stamp, received.body)
            if received.headers.get("X-Webhook-Signature") != expected:
                self.bad_signatures.append(received)
        with self._lock:
            self.requests.append(received)
            self._lock.notify_all()

    def answer_with(self, responder: Responder) -> None:
        """Decide the answer per request (e.g. by the caller's transcript)."""
        self._answer = responder

    def reply(self, obj: Any = None, status: int = 200, delay: float = 0.0) -> None:
        body = json.dumps(obj).encode() if obj is not None else b"ok"
        kind = "application/json" if obj is not None else "text/plain"
        self._answer = lambda _received: Answer(status, body, kind, delay=delay)

    def reply_ndjson(self, chunks: list[dict[str, Any]], delay: float = 0.0) -> None:
        lines = [json.dumps(c).encode() + b"\n" for c in chunks]
        self._answer = lambda _received: Answer(200, b"", "application/x-ndjson", lines, delay)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} webhook requests within {timeout}s, got {len(self.requests)}")
            return list(self.requests)

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [r.event for r in list(self.requests) if name is None or r.event.get("event") == name]

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
