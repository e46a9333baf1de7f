"""Reading a webhook request body within limits: size (413), content type (415), time (408).

The declared Content-Length is checked before reading anything, and the bytes are counted while
streaming (chunked or lying senders), so an oversized body is refused without reading the rest.
A sender slower than the read timeout gets 408 instead of holding a worker.
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

JSON_TYPES = frozenset({"application/json"})


class BodyRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


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


async def read_body(request: Request, *, limit: int, timeout_s: float) -> bytes:
    check_content_type(request.headers.get("content-type"))
    check_declared_length(request.headers.get("content-length"), limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyRejected(413, "too_large")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyRejected(408, "read_timeout") from None
    except ClientDisconnect:
        raise BodyRejected(400, "client_disconnected") from None
    return b"".join(chunks)
