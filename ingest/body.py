"""Reading a webhook request body within limits: size (413), content type (415), time (408).

Plain ASGI (the webhook POST bypasses Starlette's request machinery, see `ingest.app`). The
declared Content-Length is checked before reading anything, and the bytes are counted while
streaming (chunked or lying senders), so an oversized body is refused without reading the rest.
A sender slower than the read timeout gets 408 instead of holding its request (`ingest.deadlines`).

A refusal that comes before the whole body was read (413, 415) is answered at once and the rest of
the body is then read and thrown away (`drain`, bounded in bytes and time) before the connection
closes: closing a socket that still holds unread bytes makes the kernel send a reset, and a client
still writing its body would get `Connection reset by peer` instead of the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

from starlette.types import Receive

from ingest.deadlines import ReadDeadlines

JSON_TYPES = frozenset({"application/json"})


DRAIN_MAX_BYTES = 64 << 20  # of a refused body, read and discarded at most this much


class BodyRejected(Exception):
    def __init__(self, status: int, reason: str, *, unread: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.unread = unread  # the sender may still be writing the body: drain it after answering


def check_content_type(value: str | None) -> None:
    media_type = (value or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise BodyRejected(415, "content_type")


def check_declared_length(value: str | None, limit: int) -> None:
    if value is None:
        return
    if not value.isdigit():
        raise BodyRejected(400, "content_length")
    if int(value) > limit:
        raise BodyRejected(413, "too_large")


def request_headers(scope: Mapping[str, object]) -> dict[bytes, bytes]:
    """The request's headers by lower-case name; of repeated headers the first counts."""
    return dict(reversed(scope["headers"]))  # type: ignore[call-overload]


def text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


async def read_body(receive: Receive, headers: Mapping[bytes, bytes], *, limit: int,
                    deadlines: ReadDeadlines) -> bytes:
    try:
        check_content_type(text(headers.get(b"content-type")))
        check_declared_length(text(headers.get(b"content-length")), limit)
    except BodyRejected as refused:
        # a client waiting for `100 Continue` gets the refusal instead, and sends no body to drain
        raise BodyRejected(refused.status, refused.reason, unread=not _expects_continue(headers)) from None
    task = deadlines.begin()
    try:
        body = await _receive_all(receive, limit)
    except asyncio.CancelledError:
        if deadlines.end(task):
            raise BodyRejected(408, "read_timeout") from None
        raise
    except BaseException:
        deadlines.end(task)
        raise
    deadlines.end(task)
    return body


async def _receive_all(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise BodyRejected(400, "client_disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyRejected(413, "too_large", unread=message.get("more_body", False))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _expects_continue(headers: Mapping[bytes, bytes]) -> bool:
    return headers.get(b"expect", b"").lower() == b"100-continue"


async def drain(receive: Receive, *, timeout_s: float, max_bytes: int = DRAIN_MAX_BYTES) -> int:
    """Read and discard the rest of a refused body until it ends, `max_bytes` or `timeout_s`; the bytes read."""
    read = 0
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while read <= max_bytes:
                message = await receive()
                if message["type"] != "http.request":
                    break
                read += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
    return read
