"""The two webhook handlers: the subscription handshake (GET) and event delivery (POST).

POST: read the body within limits, verify the signature over the raw bytes, split it into records
(pure), make it durable (Kafka or spool), answer. Refusals are counted by reason and never log the
signature header, the secret or the body. The POST handler is a plain ASGI app (`__call__`): it is
the hot path, and `ingest.app.EdgeApp` dispatches to it ahead of Starlette's middleware stack.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send

from ingest.body import BodyRejected, drain, read_body, request_headers, text
from ingest.deadlines import ReadDeadlines
from ingest.delivery import Delivery
from ingest.metrics import EdgeMetrics
from ingest.parse import WebhookRejected, parse_webhook
from kernel.settings import WebhookSettings
from ingest.signature import Keys, check_signature
from ingest.received import Received
from kernel.records import EventRecord

SIGNATURE_HEADER = b"x-hub-signature-256"
_SIGNATURE_STATUS = {"missing": 401, "malformed": 403, "mismatch": 403}


class WebhookEndpoint:
    def __init__(self, settings: WebhookSettings, delivery: Delivery, metrics: EdgeMetrics) -> None:
        self.settings = settings
        self.delivery = delivery
        self.metrics = metrics
        self.secrets = Keys([s.reveal().encode() for s in settings.app_secrets])
        self.verify_token = settings.verify_token.reveal().encode() if settings.verify_token else None
        self.deadlines = ReadDeadlines(settings.body_read_timeout_s)
        self._arrivals = delivery.coalescer  # told when a request begins and when it has been read

    async def handshake(self, request: Request) -> Response:
        params = request.query_params
        token = params.get("hub.verify_token", "").encode()
        challenge = params.get("hub.challenge")
        accepted = (self.verify_token is not None and params.get("hub.mode") == "subscribe"
                    and hmac.compare_digest(token, self.verify_token) and challenge is not None)
        self.metrics.request("GET", 200 if accepted else 403)
        if not accepted:
            self.metrics.rejection("handshake")
            return PlainTextResponse("403\n", 403)
        return PlainTextResponse(challenge)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST /webhook."""
        try:
            received, records = await self._read(scope, receive)
        except BodyRejected as refused:
            status = self._refused(refused.status, refused.reason)
            if refused.unread:
                await answer_then_drain(send, receive, status, self.settings.body_read_timeout_s)
            else:
                await answer(send, status)
            return
        except WebhookRejected as refused:
            await answer(send, self._refused(400, refused.reason))
            return
        status = 200 if await self.delivery.accept(received, records) else 503
        self.metrics.request("POST", status)
        await answer(send, status)

    async def _read(self, scope: Scope, receive: Receive) -> tuple[Received, list[EventRecord]]:
        """The request read, verified and split into records; meanwhile the coalescer knows that
        it is arriving (a group about to ship waits for it, up to the linger)."""
        self._arrivals.arriving()
        try:
            received = await self._authenticate(scope, receive)
            return received, parse_webhook(received.body, received_at=received.received_at,
                                           body_sha256=received.body_sha256)
        finally:
            self._arrivals.arrived()

    async def _authenticate(self, scope: Scope, receive: Receive) -> Received:
        headers = request_headers(scope)
        body = await read_body(receive, headers, limit=self.settings.max_body_bytes, deadlines=self.deadlines)
        signature = text(headers.get(SIGNATURE_HEADER))
        verdict = check_signature(body, signature, self.secrets)
        if verdict != "ok":
            raise BodyRejected(_SIGNATURE_STATUS[verdict], f"signature_{verdict}")
        return Received(body, signature or "", time.time_ns() // 1_000_000, hashlib.sha256(body).hexdigest())

    def _refused(self, status: int, reason: str) -> int:
        self.metrics.request("POST", status)
        self.metrics.rejection(reason)
        return status


def _answer_messages(status: int) -> tuple[Message, Message]:
    if status == 200:  # no body, so no content type
        return ({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]},
                {"type": "http.response.body", "body": b""})
    body = f"{status}\n".encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body))]}
    return start, {"type": "http.response.body", "body": body}


_ANSWERS = {status: _answer_messages(status) for status in (200, 400, 401, 403, 408, 413, 415, 503)}


async def answer_then_drain(send: Send, receive: Receive, status: int, timeout_s: float) -> None:
    """A refusal sent before the body was read: the answer goes out at once (the client can read it while
    it writes), the rest of the body is drained (ingest.body), then the connection closes cleanly."""
    start, body = _ANSWERS[status]
    await send({**start, "headers": [*start["headers"], (b"connection", b"close")]})
    await send({**body, "more_body": True})
    await drain(receive, timeout_s=timeout_s)
    await send({"type": "http.response.body", "body": b""})


async def answer(send: Send, status: int) -> None:
    """The POST answers: 200 empty, refusals with a short plain-text body (the same messages every time)."""
    start, body = _ANSWERS[status]
    await send(start)
    await send(body)
