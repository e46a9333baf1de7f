"""The two webhook handlers: the subscription handshake (GET) and event delivery (POST).

POST: read the body within limits, verify the signature over the raw bytes, split it into records
(pure), make it durable (Kafka or spool), answer. Refusals are counted by reason and never log the
signature header, the secret or the body.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ingest.body import BodyRejected, read_body
from ingest.delivery import Delivery
from ingest.metrics import EdgeMetrics
from ingest.parse import WebhookRejected, parse_webhook
from ingest.settings import WebhookSettings
from ingest.signature import check_signature
from ingest.spool import Received

SIGNATURE_HEADER = "x-hub-signature-256"
_SIGNATURE_STATUS = {"missing": 401, "malformed": 403, "mismatch": 403}
_RESPONSES: dict[int, Response] = {}  # stateless after construction: one per status, reused


def cached_response(status: int) -> Response:
    response = _RESPONSES.get(status)
    if response is None:
        response = _RESPONSES[status] = PlainTextResponse(b"" if status == 200 else f"{status}\n", status)
    return response


class WebhookEndpoint:
    def __init__(self, settings: WebhookSettings, delivery: Delivery, metrics: EdgeMetrics) -> None:
        self.settings = settings
        self.delivery = delivery
        self.metrics = metrics
        self.secrets = [s.reveal().encode() for s in settings.app_secrets]
        self.verify_token = settings.verify_token.reveal().encode() if settings.verify_token else None

    async def handshake(self, request: Request) -> Response:
        params = request.query_params
        token = params.get("hub.verify_token", "").encode()
        challenge = params.get("hub.challenge")
        accepted = (self.verify_token is not None and params.get("hub.mode") == "subscribe"
                    and hmac.compare_digest(token, self.verify_token) and challenge is not None)
        self.metrics.request("GET", 200 if accepted else 403)
        if not accepted:
            self.metrics.rejection("handshake")
            return cached_response(403)
        return PlainTextResponse(challenge)

    async def receive(self, request: Request) -> Response:
        try:
            received = await self._authenticate(request)
            records = parse_webhook(received.body, received_at=received.received_at,
                                    body_sha256=received.body_sha256)
        except BodyRejected as refused:
            return self._refuse(refused.status, refused.reason)
        except WebhookRejected as refused:
            return self._refuse(400, refused.reason)
        status = 200 if await self.delivery.accept(received, records) else 503
        self.metrics.request("POST", status)
        return cached_response(status)

    async def _authenticate(self, request: Request) -> Received:
        body = await read_body(request, limit=self.settings.max_body_bytes,
                               timeout_s=self.settings.body_read_timeout_s)
        signature = request.headers.get(SIGNATURE_HEADER)
        verdict = check_signature(body, signature, self.secrets)
        if verdict != "ok":
            raise BodyRejected(_SIGNATURE_STATUS[verdict], f"signature_{verdict}")
        return Received(body, signature or "", time.time_ns() // 1_000_000, hashlib.sha256(body).hexdigest())

    def _refuse(self, status: int, reason: str) -> Response:
        self.metrics.request("POST", status)
        self.metrics.rejection(reason)
        return cached_response(status)
