"""An open-loop HTTP/1.1 load generator light enough to share two cores with the system it measures.

aiohttp's client spends a few hundred microseconds of CPU per request; at 2,000 requests/s on a
two-core machine that is a third of a core taken from the system under test, and a loaded client
sends late. This one writes prepared request bytes on keep-alive connections (asyncio protocols,
one request in flight per connection) and reads back only the status line and Content-Length.

Open loop: request n is due at `start + n / rate`, whether or not earlier ones were answered; a
request that finds no idle connection opens one (up to `max_connections`) or waits for one. Its
latency counts from when it was due, so a stalled server is not hidden by a stalled client
(coordinated omission). Bounded: `count` requests, and `deadline_s` for the whole run.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class Outcome:
    due_at: float  # wall clock (time.time()) when the request was due
    answered_at: float | None  # wall clock of the complete answer; None: no answer
    status: int | None


def request_bytes(host: str, port: int, path: str, body: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection(asyncio.Protocol):
    def __init__(self, on_answer: Callable[[_Connection, int | None], None]) -> None:
        self.on_answer = on_answer
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length:]
            self.on_answer(self, int(head[0].split(" ", 2)[1]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.on_answer(self, None)


async def open_loop(host: str, port: int, requests: Sequence[bytes], rate: float, *,
                    max_connections: int = 256, deadline_s: float = 120.0) -> list[Outcome]:
    """Send `requests` (prepared bytes) at `rate` per second; one `Outcome` per request, in order."""
    loop = asyncio.get_running_loop()
    outcomes = [Outcome(0.0, None, None) for _ in requests]
    idle: collections.deque[_Connection] = collections.deque()
    in_flight: dict[_Connection, int] = {}
    backlog: collections.deque[int] = collections.deque()
    opened = 0
    done = asyncio.Event()
    answered = 0

    def finish(index: int, status: int | None) -> None:
        nonlocal answered
        outcomes[index].answered_at = time.time() if status is not None else None
        outcomes[index].status = status
        answered += 1
        if answered == len(requests):
            done.set()

    def on_answer(connection: _Connection, status: int | None) -> None:
        nonlocal opened
        index = in_flight.pop(connection, None)
        if index is not None:
            finish(index, status)
        if status is None or connection.closed:  # lost: forget it, let a new one be opened
            if connection in idle:
                idle.remove(connection)
            opened -= 1
        elif backlog:
            dispatch(connection, backlog.popleft())
        else:
            idle.append(connection)

    def dispatch(connection: _Connection, index: int) -> None:
        in_flight[connection] = index
        connection.send(requests[index])

    async def connect_for(index: int) -> None:
        nonlocal opened
        try:
            _, connection = await loop.create_connection(lambda: _Connection(on_answer), host, port)
        except OSError:
            opened -= 1
            finish(index, None)
            return
        dispatch(connection, index)

    started_wall, started = time.time(), loop.time()
    for index in range(len(requests)):
        due = started + index / rate
        delay = due - loop.time()
        if delay > 0.001:
            await asyncio.sleep(delay)
        outcomes[index].due_at = started_wall + index / rate
        if idle:
            dispatch(idle.popleft(), index)
        elif opened < max_connections:
            opened += 1
            loop.create_task(connect_for(index))
        else:
            backlog.append(index)
        if loop.time() - started > deadline_s:
            break
    try:
        await asyncio.wait_for(done.wait(), max(1.0, deadline_s - (loop.time() - started)))
    except TimeoutError:
        pass
    for connection in [*idle, *in_flight]:
        if connection.transport is not None:
            connection.transport.close()
    return outcomes
