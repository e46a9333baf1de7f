"""A refused body is answered so that the sender reads the answer, over raw sockets on loopback.

Closing a connection that still holds unread bytes makes the kernel send a reset, and a client still
writing its body then gets `Connection reset by peer` instead of the status line. The edge answers
first, reads and discards the rest of the body, and only then closes.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from kernel.settings import KafkaSettings
from ingest.signature import sign
from tests.ingest.conftest import edge_settings, served
from tests.ingest.meta import SECRET

pytestmark = [pytest.mark.integration]

LIMIT = 1 << 20
CHUNK = 64 << 10


def _body(size: int) -> bytes:
    return b'{"object":"page","entry":[' + b" " * (size - 28) + b"]}"


def _head(port: int, body: bytes, *, content_type: str = "application/json", extra: str = "",
          chunked: bool = False) -> bytes:
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    return (f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\n{length}\r\nX-Hub-Signature-256: {sign(body, SECRET)}\r\n"
            f"{extra}\r\n").encode()


def _exchange(port: int, head: bytes, body: bytes, *, write_body: bool, chunked: bool = False) -> bytes:
    """Send the head, then (maybe) the whole body in 64 KiB chunks, then read the answer to its end."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)
        if write_body:
            for start in range(0, len(body), CHUNK):
                piece = body[start:start + CHUNK]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


@pytest.fixture
async def edge_port(kafka: KafkaSettings, data_dir: Path) -> object:
    async with served(edge_settings(kafka, data_dir / "spool", max_body_bytes=LIMIT,
                                    body_read_timeout_s=3.0)) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.mark.parametrize("size", [2 << 20, 16 << 20])
async def test_a_client_that_writes_its_whole_body_reads_413(edge_port: int, size: int) -> None:
    body = _body(size)
    answer = await asyncio.to_thread(_exchange, edge_port, _head(edge_port, body), body, write_body=True)
    assert answer.startswith(b"HTTP/1.1 413 ") and answer.endswith(b"\r\n\r\n413\n")


async def test_a_chunked_body_over_the_limit_reads_413(edge_port: int) -> None:
    body = _body(4 << 20)
    head = _head(edge_port, body, chunked=True)
    answer = await asyncio.to_thread(_exchange, edge_port, head, body, write_body=True, chunked=True)
    assert answer.startswith(b"HTTP/1.1 413 ")


async def test_a_client_that_stops_after_the_headers_reads_413(edge_port: int) -> None:
    body = _body(2 << 20)
    answer = await asyncio.to_thread(_exchange, edge_port, _head(edge_port, body), body, write_body=False)
    assert answer.startswith(b"HTTP/1.1 413 ")


async def test_a_client_waiting_for_100_continue_gets_413_instead(edge_port: int) -> None:
    body = _body(2 << 20)
    head = _head(edge_port, body, extra="Expect: 100-continue\r\n")
    answer = await asyncio.to_thread(_exchange, edge_port, head, body, write_body=False)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in answer


async def test_a_wrong_content_type_with_a_large_body_reads_415(edge_port: int) -> None:
    body = _body(8 << 20)
    head = _head(edge_port, body, content_type="text/plain")
    answer = await asyncio.to_thread(_exchange, edge_port, head, body, write_body=True)
    assert answer.startswith(b"HTTP/1.1 415 ")
