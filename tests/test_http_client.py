"""The webhook HTTP client (emulator/webhooks/http.py) against small raw HTTP servers: keep-alive reuse,
chunked and close-delimited bodies, early exits, the per-origin limit, targets that close on it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from emulator.webhooks.http import Client, ConnectionClosed

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[bool]]


class Server:
    """A loopback HTTP server that reads each request (head and Content-Length body) and lets `answer`
    write the response; `answer` returns whether to keep the connection for another request."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook?x=1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if not await self.answer(reader, writer, body):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


def fixed(body: bytes, delay: float = 0.0) -> Handler:
    async def answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _body: bytes) -> bool:
        await asyncio.sleep(delay)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                     + body)
        await writer.drain()
        return True

    return answer


async def post(client: Client, url: str, body: bytes = b'{"hello": "there"}') -> tuple[int, dict[str, str], bytes]:
    async with client.stream(url, body, {"Content-Type": "application/json", "X-Test": "1"}) as response:
        chunks = [chunk async for chunk in response.aiter_raw()]
        return response.status_code, dict(response.headers), b"".join(chunks)


def run(work: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(work(), 30))


def test_requests_to_one_origin_share_a_keep_alive_connection() -> None:
    async def work() -> None:
        async with Server(fixed(b'{"ok":true}')) as server:
            client = Client()
            for _ in range(5):
                assert await post(client, server.url) == (200, {"content-type": "application/json",
                                                                 "content-length": "11"}, b'{"ok":true}')
            await client.aclose()
            assert server.connections == 1
            head = server.requests[0].decode()
            assert head.startswith("POST /hook?x=1 HTTP/1.1\r\n")
            assert f"Host: 127.0.0.1:{server.url.split(':')[2].split('/')[0]}\r\n" in head
            assert "Content-Length: 18\r\n" in head and "X-Test: 1\r\n" in head
            assert head.endswith('{"hello": "there"}')

    run(work)


def test_chunked_and_close_delimited_bodies_are_read_whole() -> None:
    async def chunked(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _b: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
        for line in (b'{"text":"one","interim":true}\n', b'{"text":"two"}\n'):
            writer.write(b"%x\r\n%s\r\n" % (len(line), line))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        return True

    async def until_close(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _b: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it, until the end")
        return False

    async def work() -> None:
        client = Client()
        async with Server(chunked) as server:
            status, _, body = await post(client, server.url)
            assert (status, body) == (200, b'{"text":"one","interim":true}\n{"text":"two"}\n')
            await post(client, server.url)
            assert server.connections == 1  # a chunked answer leaves the connection reusable
        async with Server(until_close) as server:
            assert (await post(client, server.url))[2] == b"all of it, until the end"
            assert (await post(client, server.url))[2] == b"all of it, until the end"
            assert server.connections == 2  # closed by the target: not reused
        await client.aclose()

    run(work)


def test_leaving_before_the_body_is_complete_closes_the_connection() -> None:
    async def endless(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _b: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:
            writer.write(b"5\r\nhello\r\n")
            await writer.drain()
            await asyncio.sleep(0.005)

    async def work() -> None:
        client = Client()
        async with Server(endless) as server:
            for _ in range(2):
                async with client.stream(server.url, b"{}", {}) as response:
                    async for chunk in response.aiter_raw():
                        assert chunk == b"hello"
                        break
            assert server.connections == 2
        await client.aclose()

    run(work)


def test_an_origin_at_its_limit_queues_requests_in_order() -> None:
    async def work() -> None:
        async with Server(fixed(b"{}", delay=0.02)) as server:
            client = Client(max_per_origin=2)
            finished: list[int] = []

            async def one(index: int) -> None:
                await post(client, server.url, b'{"n": %d}' % index)
                finished.append(index)

            await asyncio.gather(*(one(i) for i in range(9)))
            await client.aclose()
            assert server.most_open <= 2 and server.connections == 2
            assert len(finished) == 9
            order = [int(r.rsplit(b'"n": ', 1)[1].rstrip(b"}")) for r in server.requests]
            assert order == sorted(order)  # first come, first served

    run(work)


def test_a_target_that_closes_mid_answer_is_an_error_and_one_that_closes_when_idle_is_not() -> None:
    async def half(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _b: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()
        return False

    async def once(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, _b: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        return False  # keep-alive said, then closed while idle

    async def work() -> None:
        client = Client()
        async with Server(half) as server:
            with pytest.raises(ConnectionClosed):
                await post(client, server.url)
        async with Server(once) as server:
            for _ in range(3):
                assert (await post(client, server.url))[2] == b"{}"
                await asyncio.sleep(0.05)  # the target's close arrives before the next request
            assert server.connections == 3
        await client.aclose()

    run(work)


def test_a_connection_idle_for_longer_than_the_idle_limit_is_not_reused() -> None:
    # A target closes idle connections after its keep-alive timeout; a request written as that close is on its way
    # is lost. Connections idle for `idle_seconds` or more are closed and replaced instead of reused.
    now = [100.0]

    async def work() -> None:
        async with Server(fixed(b"{}")) as server:
            client = Client(idle_seconds=1.5, clock=lambda: now[0])
            await post(client, server.url)
            now[0] += 1.4
            await post(client, server.url)
            assert server.connections == 1  # idle 1.4 s: reused
            now[0] += 1.5
            assert await post(client, server.url) == (200, {"content-type": "application/json",
                                                             "content-length": "2"}, b"{}")
            assert server.connections == 2  # idle 1.5 s: a new connection
            await asyncio.sleep(0.05)
            assert server.open == 1  # and the stale one was closed, not left open
            await client.aclose()

    run(work)



def test_a_request_is_not_written_on_a_connection_the_target_is_closing_for_idleness() -> None:
    # The race with a target's keep-alive timeout, made certain: this target answers the first request on a
    # connection and closes the connection, unanswered, when a second one arrives on it (its close crossed the
    # request). Once a connection was idle past the limit, the next request goes out on a new one and is answered.
    now = [100.0]

    async def first_only(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _body: bytes) -> bool:
        if served.get(writer):
            return False
        served[writer] = True
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        return True

    served: dict[asyncio.StreamWriter, bool] = {}

    async def work() -> None:
        async with Server(first_only) as server:
            client = Client(clock=lambda: now[0])
            assert (await post(client, server.url))[0] == 200
            now[0] += client.idle_seconds
            assert (await post(client, server.url))[0] == 200
            assert server.connections == 2 and len(server.requests) == 2
            now[0] += 0.1
            with pytest.raises(ConnectionClosed):  # within the limit the connection is reused: the race it avoids
                await post(client, server.url)
            await client.aclose()

    run(work)
